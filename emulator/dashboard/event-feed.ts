import { EventEmitter } from 'node:events';
import type { TelemetryEvent } from '../hub/telemetry/record';
import type { EventKind, HubEvent } from './api-types';
import { telemetryItem } from './telemetry-view';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event as its source describes it; the feed numbers and stamps it. */
export type NewHubEvent = DistributiveOmit<HubEvent, 'id' | 'time'>;

/** One event of the feed. Telemetry is turned into JSON only when something reads it. */
export interface FeedEntry {
  readonly id: number;
  readonly kind: EventKind;
  readonly deviceId: string | null;
  event(): HubEvent;
}

export interface FeedLimits {
  /** Events other than telemetry kept for the event page. */
  readonly recent: number;
  /** Telemetry events kept for the event page (the device page reads the telemetry log itself). */
  readonly telemetry: number;
  /** Events other than telemetry kept per registered device. */
  readonly perDevice: number;
}

const DEFAULT_LIMITS: FeedLimits = { recent: 1000, telemetry: 200, perDevice: 25 };

/** A fixed-size ring: the newest `capacity` items, oldest first. */
class Ring<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  constructor(private readonly capacity: number) {
    this.items = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  toArray(): T[] {
    const result: T[] = [];
    for (let i = this.count; i > 0; i--) {
      const item = this.items[(this.next - i + this.capacity) % this.capacity];
      if (item !== undefined) result.push(item);
    }
    return result;
  }
}

interface EventFeedEvents {
  entry: [entry: FeedEntry];
}

/**
 * What the hub did, numbered in order, with bounded memory: the last events hub-wide (telemetry apart, as it can
 * outnumber everything else a thousand to one) and the last events of each registered device. Listeners (the
 * stream) see every entry as it is published.
 */
export class EventFeed extends EventEmitter<EventFeedEvents> {
  private nextId = 1;
  private readonly activity: Ring<FeedEntry>;
  private readonly telemetryRing: Ring<FeedEntry>;
  private readonly byDevice = new Map<string, Ring<FeedEntry>>();

  constructor(
    /** Per-device history is kept for registered devices only: refused clients can claim any id. */
    private readonly isRegistered: (deviceId: string) => boolean,
    private readonly limits: FeedLimits = DEFAULT_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    super();
    this.activity = new Ring(limits.recent);
    this.telemetryRing = new Ring(limits.telemetry);
  }

  publish(source: NewHubEvent): FeedEntry {
    const event = { ...source, id: this.nextId++, time: this.now() } as HubEvent;
    const entry: FeedEntry = { id: event.id, kind: event.kind, deviceId: event.deviceId, event: () => event };
    this.activity.push(entry);
    if (event.deviceId !== null && this.isRegistered(event.deviceId)) {
      let ring = this.byDevice.get(event.deviceId);
      if (!ring) {
        ring = new Ring(this.limits.perDevice);
        this.byDevice.set(event.deviceId, ring);
      }
      ring.push(entry);
    }
    this.emit('entry', entry);
    return entry;
  }

  /** A device's message: kept by reference (the telemetry log's cache holds it anyway) and parsed on demand. */
  telemetry(raw: TelemetryEvent): FeedEntry {
    const id = this.nextId++;
    let built: HubEvent | undefined;
    const entry: FeedEntry = {
      id,
      kind: 'telemetry',
      deviceId: raw.deviceId,
      event: () => {
        if (!built) {
          const telemetry = telemetryItem(raw);
          built = {
            id,
            time: telemetry.time,
            kind: 'telemetry',
            deviceId: raw.deviceId,
            summary: telemetrySummary(telemetry.fields, telemetry.bytes),
            telemetry,
          };
        }
        return built;
      },
    };
    this.telemetryRing.push(entry);
    this.emit('entry', entry);
    return entry;
  }

  /** The last `limit` events hub-wide, oldest first, telemetry included. */
  recent(limit: number): HubEvent[] {
    const merged = [...this.activity.toArray(), ...this.telemetryRing.toArray()].sort((a, b) => a.id - b.id);
    return merged.slice(-limit).map((entry) => entry.event());
  }

  /** A device's last events (connects, refusals, calls, messages sent to it), oldest first. */
  forDevice(deviceId: string): HubEvent[] {
    return (this.byDevice.get(deviceId)?.toArray() ?? []).map((entry) => entry.event());
  }

  /** A deleted device's history goes with it. */
  forget(deviceId: string): void {
    this.byDevice.delete(deviceId);
  }
}

function telemetrySummary(fields: Readonly<Record<string, number>>, bytes: number): string {
  const shown = Object.entries(fields)
    .slice(0, 4)
    .map(([name, value]) => `${name}=${String(value)}`);
  return shown.length > 0 ? shown.join(' ') : `${bytes} bytes`;
}
