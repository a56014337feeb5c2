import {
  STREAM_EVENTS,
  type DroppedMessage,
  type EventKind,
  type HubEvent,
  type StatsMessage,
} from '../../dashboard/api-types';

export interface LiveOptions {
  readonly token: string;
  readonly deviceId?: string;
  /** Event kinds wanted; undefined for all, empty for none. */
  readonly kinds?: readonly EventKind[];
  readonly stats?: boolean;
}

export interface LiveHandlers {
  readonly event?: (event: HubEvent) => void;
  readonly stats?: (stats: StatsMessage) => void;
  readonly dropped?: (count: number) => void;
  /** The stream (re)opened: a page reloads what it may have missed. */
  readonly open?: () => void;
}

type LiveState = 'connecting' | 'live' | 'offline';

/** Every stream's state, shown in the header. */
const stateListeners = new Set<(state: LiveState) => void>();

export function onLiveState(listener: (state: LiveState) => void): void {
  stateListeners.add(listener);
}

/**
 * One page's live updates over Server-Sent Events. EventSource reconnects by itself (after the `retry` the server
 * sets); each reopening is reported so that the page can fetch what it missed.
 */
export class Live {
  private readonly source: EventSource;

  constructor(options: LiveOptions, handlers: LiveHandlers) {
    const params = new URLSearchParams({ token: options.token, stats: String(options.stats ?? false) });
    if (options.deviceId !== undefined) params.set('device', options.deviceId);
    if (options.kinds !== undefined)
      params.set('kinds', options.kinds.length === 0 ? 'none' : options.kinds.join(','));
    this.source = new EventSource(`/api/stream?${params.toString()}`);
    setState('connecting');
    let opened = false;
    this.source.addEventListener('open', () => {
      setState('live');
      // The first opening follows the page's own load; later ones follow an outage.
      if (opened) handlers.open?.();
      opened = true;
    });
    this.source.addEventListener('error', () => {
      setState(this.source.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
    });
    this.source.addEventListener(STREAM_EVENTS.hubEvent, (message) => {
      handlers.event?.(dataOf(message) as HubEvent);
    });
    this.source.addEventListener(STREAM_EVENTS.stats, (message) => {
      handlers.stats?.(dataOf(message) as StatsMessage);
    });
    this.source.addEventListener(STREAM_EVENTS.dropped, (message) => {
      handlers.dropped?.((dataOf(message) as DroppedMessage).count);
    });
  }

  close(): void {
    this.source.close();
  }
}

function setState(state: LiveState): void {
  for (const listener of stateListeners) listener(state);
}

/** The server writes each event's data with JSON.stringify of the type the event name stands for. */
function dataOf(message: Event): unknown {
  return JSON.parse((message as MessageEvent<string>).data);
}
