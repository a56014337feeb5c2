export const MIN_INTERVAL_SECONDS = 1;
export const MAX_INTERVAL_SECONDS = 3600;

export type IntervalParse = { ok: true; seconds: number } | { ok: false; message: string };

const ACCEPTED = `a whole number of seconds from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}, as a number or a numeric string (e.g. 5 or "5")`;

/** Reads the SetTelemetryInterval payload: a whole number of seconds, 1..3600, given as a number or a numeric string. */
export function parseTelemetryInterval(payload: unknown): IntervalParse {
  let value: number;
  if (typeof payload === 'number') {
    value = payload;
  } else if (typeof payload === 'string' && /^\s*\d+\s*$/.test(payload)) {
    value = Number(payload);
  } else {
    return { ok: false, message: `Invalid interval ${describe(payload)}: expected ${ACCEPTED}.` };
  }
  if (!Number.isInteger(value) || value < MIN_INTERVAL_SECONDS || value > MAX_INTERVAL_SECONDS) {
    return { ok: false, message: `Invalid interval ${describe(payload)}: expected ${ACCEPTED}.` };
  }
  return { ok: true, seconds: value };
}

function describe(payload: unknown): string {
  const text = payload === undefined ? 'nothing' : JSON.stringify(payload);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}
