import type { ServerResponse } from 'node:http';
import { STREAM_EVENTS, type EventKind, type StatsMessage } from './api-types';
import type { EventFeed, FeedEntry } from './event-feed';
import type { ReadModel } from './read-model';

/** What one page wants from the stream. */
export interface StreamFilter {
  /** Only this device's events. */
  readonly deviceId: string | undefined;
  /** Only these kinds; undefined for every kind, empty for none (stats only). */
  readonly kinds: ReadonlySet<EventKind> | undefined;
  readonly stats: boolean;
}

/** Events sent to one page per second at most; the rest are counted and reported as dropped. */
const EVENTS_PER_SECOND = 250;
/** Bytes waiting in a page's socket beyond which events are dropped rather than queued without bound. */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** A comment line now and then keeps proxies and the browser from timing the stream out. */
const HEARTBEAT_MS = 15_000;

interface Client {
  readonly response: ServerResponse;
  readonly filter: StreamFilter;
  sentThisSecond: number;
  dropped: number;
}

/**
 * Live updates over Server-Sent Events: each open page has one stream with its filter. Events are written as they
 * happen, within a budget per second and per socket buffer, so that a busy hub or a slow page never makes the
 * emulator hold an unbounded backlog; a page learns how many it missed.
 */
export class EventStream {
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  private readonly onEntry = (entry: FeedEntry) => {
    this.broadcast(entry);
  };
  private readonly onStats = (stats: StatsMessage) => {
    this.tick(stats);
  };

  constructor(
    private readonly feed: EventFeed,
    private readonly model: ReadModel,
  ) {
    feed.on('entry', this.onEntry);
    model.on('stats', this.onStats);
    this.heartbeat = setInterval(() => {
      for (const client of this.clients) client.response.write(': keep-alive\n\n');
    }, HEARTBEAT_MS).unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over `response` as a stream until the page goes away. */
  open(response: ServerResponse, filter: StreamFilter): void {
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // Tells EventSource how long to wait before reconnecting after the emulator went away.
    response.write('retry: 2000\n\n');
    const client: Client = { response, filter, sentThisSecond: 0, dropped: 0 };
    this.clients.add(client);
    response.on('close', () => this.clients.delete(client));
    if (filter.stats) this.send(client, STREAM_EVENTS.stats, this.model.stats());
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.feed.off('entry', this.onEntry);
    this.model.off('stats', this.onStats);
    for (const client of this.clients) client.response.end();
    this.clients.clear();
  }

  private broadcast(entry: FeedEntry): void {
    let data: string | undefined;
    for (const client of this.clients) {
      const { filter } = client;
      if (filter.deviceId !== undefined && entry.deviceId !== filter.deviceId) continue;
      if (filter.kinds && !filter.kinds.has(entry.kind)) continue;
      if (client.sentThisSecond >= EVENTS_PER_SECOND || client.response.writableLength > MAX_BUFFERED_BYTES) {
        client.dropped++;
        continue;
      }
      // Built once for every page that wants it; telemetry is parsed here, only when someone watches.
      data ??= JSON.stringify(entry.event());
      client.sentThisSecond++;
      client.response.write(`id: ${entry.id}\nevent: ${STREAM_EVENTS.hubEvent}\ndata: ${data}\n\n`);
    }
  }

  private tick(stats: StatsMessage): void {
    for (const client of this.clients) {
      client.sentThisSecond = 0;
      if (client.dropped > 0) {
        this.send(client, STREAM_EVENTS.dropped, { count: client.dropped });
        client.dropped = 0;
      }
      if (client.filter.stats) this.send(client, STREAM_EVENTS.stats, stats);
    }
  }

  private send(client: Client, event: string, value: unknown): void {
    client.response.write(`event: ${event}\ndata: ${JSON.stringify(value)}\n\n`);
  }
}
