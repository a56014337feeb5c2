import type { HubEvent } from '../../dashboard/api-types';
import { h, replaceChildren } from './dom';
import { formatTime } from './format';
import { deviceHref } from './router';

export interface EventTableOptions {
  readonly showDevice: boolean;
  /** Rows kept; older ones go. */
  readonly max: number;
  readonly caption: string;
}

/** Events newest first, as text only (device ids and reasons come from outside and are never markup). */
export class EventTable {
  readonly element: HTMLTableElement;
  private readonly body = h('tbody');
  private events: HubEvent[] = [];
  private filter: (event: HubEvent) => boolean = () => true;

  constructor(private readonly options: EventTableOptions) {
    this.element = h(
      'table',
      { class: 'data events' },
      h('caption', { class: 'visually-hidden' }, options.caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Time'),
          h('th', { scope: 'col' }, 'Event'),
          options.showDevice ? h('th', { scope: 'col' }, 'Device') : null,
          h('th', { scope: 'col' }, 'Details'),
        ),
      ),
      this.body,
    );
  }

  get shown(): number {
    return this.body.rows.length;
  }

  /**
   * Takes a list from the API (oldest first) alongside what the stream already brought: merged by id, so that an
   * event that arrived while the list was on its way is neither lost nor shown twice.
   */
  set(events: readonly HubEvent[]): void {
    const byId = new Map<number, HubEvent>();
    for (const event of [...events, ...this.events]) byId.set(event.id, event);
    this.events = [...byId.values()].sort((a, b) => a.id - b.id).slice(-this.options.max);
    this.render();
  }

  /** Adds events that arrived (oldest first). */
  add(events: readonly HubEvent[]): void {
    if (events.length === 0) return;
    this.events.push(...events);
    const excess = this.events.length - this.options.max;
    if (excess > 0) this.events.splice(0, excess);
    // New rows go on top without redrawing the rest, unless the table must shed its oldest rows.
    const rows = events.filter(this.filter).map((event) => this.row(event));
    this.body.prepend(...rows.reverse());
    while (this.body.rows.length > this.options.max) this.body.lastElementChild?.remove();
  }

  setFilter(filter: (event: HubEvent) => boolean): void {
    this.filter = filter;
    this.render();
  }

  clear(): void {
    this.events = [];
    this.render();
  }

  private render(): void {
    const rows = this.events.filter(this.filter).map((event) => this.row(event));
    replaceChildren(this.body, ...rows.reverse());
  }

  private row(event: HubEvent): HTMLTableRowElement {
    return h(
      'tr',
      { 'data-kind': event.kind },
      h('td', { class: 'time' }, formatTime(event.time)),
      h('td', {}, h('span', { class: `kind kind-${event.kind}` }, event.kind)),
      this.options.showDevice
        ? h(
            'td',
            {},
            event.deviceId === null
              ? '—'
              : event.kind === 'connection-refused'
                ? event.deviceId
                : h('a', { href: deviceHref(event.deviceId) }, event.deviceId),
          )
        : null,
      h('td', { class: 'summary' }, event.summary),
    );
  }
}
