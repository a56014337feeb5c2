const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});

/** A time of day with milliseconds, for event lists. */
export function formatTime(ms: number): string {
  return `${timeFormat.format(ms)}.${String(new Date(ms).getMilliseconds()).padStart(3, '0')}`;
}

/** "12 s ago", "3 min ago", or the time for older ones. */
export function formatAgo(ms: number | null, now = Date.now()): string {
  if (ms === null) return '—';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 60) return `${String(seconds)} s ago`;
  if (seconds < 3600) return `${String(Math.floor(seconds / 60))} min ago`;
  return new Date(ms).toLocaleString();
}

export function formatRate(perSecond: number): string {
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

export function formatDuration(ms: number | null): string {
  if (ms === null) return '—';
  return ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(1)} ms`;
}

export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
