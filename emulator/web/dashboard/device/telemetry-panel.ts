import type { TelemetryItem } from '../../../dashboard/api-types';
import { h, replaceChildren, section } from '../dom';
import { formatTime } from '../format';
import { TimeChart } from '../time-chart';

/** Series drawn at most: past that, a chart of readings stops being readable. */
const MAX_SERIES = 8;
const ROWS = 50;
const WINDOW_MS = 15 * 60 * 1000;

/**
 * The device's messages as they arrive: a chart of their numeric fields (temperature, humidity, …) against time,
 * and a table of the last ones. The chart is rebuilt when a new field appears, as its series are fixed.
 */
export class TelemetryPanel {
  readonly element: HTMLElement;
  private readonly chartBox = h('div', { 'data-chart': 'telemetry' });
  private readonly rows = h('tbody');
  private readonly empty = h('p', { class: 'hint' }, 'No message from this device yet.');
  private chart: TimeChart | undefined;
  private fields: string[] = [];
  private items: TelemetryItem[] = [];

  constructor(private readonly deviceId: string) {
    this.element = section(
      'Telemetry',
      this.empty,
      this.chartBox,
      h(
        'table',
        { class: 'data telemetry' },
        h('caption', { class: 'visually-hidden' }, `Last messages of ${deviceId}`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Enqueued'),
            h('th', { scope: 'col', class: 'num' }, 'Sequence'),
            h('th', { scope: 'col' }, 'Body'),
            h('th', { scope: 'col' }, 'Properties'),
          ),
        ),
        this.rows,
      ),
    );
  }

  set(items: readonly TelemetryItem[]): void {
    this.items = items.slice(-Math.max(ROWS, 500));
    this.rebuildChart();
    replaceChildren(
      this.rows,
      ...this.items
        .slice(-ROWS)
        .map((item) => this.row(item))
        .reverse(),
    );
    this.empty.hidden = this.items.length > 0;
  }

  add(item: TelemetryItem): void {
    this.items.push(item);
    if (this.items.length > 500) this.items.shift();
    this.empty.hidden = true;
    const newFields = Object.keys(item.fields).filter((name) => !this.fields.includes(name));
    if (newFields.length > 0 && this.fields.length < MAX_SERIES) this.rebuildChart();
    else
      this.chart?.append(
        item.time,
        this.fields.map((name) => item.fields[name] ?? null),
      );
    this.rows.prepend(this.row(item));
    while (this.rows.rows.length > ROWS) this.rows.lastElementChild?.remove();
  }

  dispose(): void {
    this.chart?.destroy();
  }

  private rebuildChart(): void {
    const fields = new Set<string>();
    for (const item of this.items) for (const name of Object.keys(item.fields)) fields.add(name);
    this.fields = [...fields].slice(0, MAX_SERIES);
    this.chart?.destroy();
    this.chart = undefined;
    replaceChildren(this.chartBox);
    if (this.fields.length === 0) return;
    this.chart = new TimeChart(this.chartBox, {
      label: `${this.fields.join(', ')} of ${this.deviceId} against time`,
      windowMs: WINDOW_MS,
      series: this.fields.map((label) => ({ label })),
    });
    this.chart.setPoints(
      this.items.map((item) => ({
        time: item.time,
        values: this.fields.map((name) => item.fields[name] ?? null),
      })),
    );
  }

  private row(item: TelemetryItem): HTMLTableRowElement {
    const properties = Object.entries(item.properties)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ');
    return h(
      'tr',
      {},
      h('td', { class: 'time' }, formatTime(item.time)),
      h('td', { class: 'num' }, item.sequenceNumber),
      h('td', { class: 'body' }, item.body + (item.truncated ? ` … (${String(item.bytes)} bytes)` : '')),
      h('td', { class: 'properties' }, properties || '—'),
    );
  }
}
