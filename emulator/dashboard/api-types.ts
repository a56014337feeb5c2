/*
 * The dashboard's JSON API, as the server writes it and the browser code (web/dashboard) reads it. Types only,
 * plus a few constant lists: this file is compiled for Node and bundled for the browser, so it imports nothing.
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export type DeviceTransportName = 'mqtt' | 'amqp';
export type DeviceStatusName = 'enabled' | 'disabled';
export type ConnectionStateName = 'Connected' | 'Disconnected';

/** Every kind of event the stream carries, in the order the event page lists them. */
export const EVENT_KINDS = [
  'connected',
  'disconnected',
  'connection-refused',
  'telemetry',
  'method-call',
  'c2d-sent',
  'c2d-settled',
  'twin-desired-changed',
  'device-created',
  'device-deleted',
  'device-enabled',
  'device-disabled',
  'device-keys-changed',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** One device-to-cloud message, as the device page shows it. */
export interface TelemetryItem {
  readonly sequenceNumber: number;
  readonly partitionId: string;
  /** Enqueued time, ms since the epoch. */
  readonly time: number;
  /** The body's top-level numeric fields (a JSON object's), which the chart draws. */
  readonly fields: Readonly<Record<string, number>>;
  /** The body as text, cut at TELEMETRY_PREVIEW_BYTES. */
  readonly body: string;
  readonly truncated: boolean;
  readonly bytes: number;
  readonly properties: Readonly<Record<string, string>>;
}

export const TELEMETRY_PREVIEW_BYTES = 1024;

interface EventBase {
  /** Increasing within one emulator run: the stream and the lists order by it. */
  readonly id: number;
  /** ms since the epoch. */
  readonly time: number;
  /** The device concerned; for a refused connection, the id the client claimed (maybe no registered device). */
  readonly deviceId: string | null;
  /** One line for lists. */
  readonly summary: string;
}

/** Something the hub did, as the event stream and the device page list it. */
export type HubEvent = EventBase &
  (
    | { readonly kind: 'connected' | 'disconnected'; readonly transport: DeviceTransportName }
    | {
        readonly kind: 'connection-refused';
        readonly transport: DeviceTransportName;
        readonly reason: string;
      }
    | { readonly kind: 'telemetry'; readonly telemetry: TelemetryItem }
    | {
        readonly kind: 'method-call';
        readonly methodName: string;
        readonly status: number | null;
        readonly error: string | null;
        readonly durationMs: number;
      }
    | { readonly kind: 'c2d-sent'; readonly messageId: string }
    | { readonly kind: 'c2d-settled'; readonly messageId: string | null; readonly outcome: string }
    | { readonly kind: 'twin-desired-changed'; readonly version: number }
    | {
        readonly kind:
          'device-created' | 'device-deleted' | 'device-enabled' | 'device-disabled' | 'device-keys-changed';
      }
  );

/** One second of the hub's activity. */
export interface RatePoint {
  /** Start of the second, ms since the epoch. */
  readonly t: number;
  readonly telemetryIn: number;
  /** Cloud-to-device messages the devices settled (completed or rejected). */
  readonly c2dOut: number;
  readonly methodCalls: number;
  /** Mean duration of the method calls that finished in this second; null when none did. */
  readonly methodLatencyMs: number | null;
  readonly connected: number;
}

/** Rates over the last few seconds, per second. */
export interface CurrentRates {
  readonly telemetryIn: number;
  readonly c2dOut: number;
  readonly methodCalls: number;
  readonly methodLatencyMs: number | null;
}

export interface PartitionRow {
  readonly partitionId: string;
  readonly beginSequenceNumber: number;
  readonly lastSequenceNumber: number;
  /** ms since the epoch; null for an empty partition. */
  readonly lastEnqueuedTime: number | null;
}

/** A receiver reading a partition of the Event Hub-compatible endpoint. */
export interface ReaderRow {
  readonly consumerGroup: string;
  readonly partitionId: string;
  /** The receiver's owner level (epoch), when it has one. */
  readonly epoch: number | null;
}

export interface HubSummary {
  readonly hubName: string;
  readonly hostName: string;
  /** When the dashboard started, ms since the epoch. */
  readonly startedAt: number;
  readonly registeredDevices: number;
  readonly connectedDevices: number;
  readonly rates: CurrentRates;
  readonly partitions: readonly PartitionRow[];
  readonly consumerGroups: readonly string[];
  /** null when the endpoint does not report its readers. */
  readonly readers: readonly ReaderRow[] | null;
  /** One point per second, oldest first. */
  readonly series: readonly RatePoint[];
}

/** What the `stats` stream event carries every second. */
export interface StatsMessage {
  readonly point: RatePoint;
  readonly rates: CurrentRates;
  readonly registeredDevices: number;
  readonly connectedDevices: number;
}

export interface DeviceRow {
  readonly deviceId: string;
  readonly status: DeviceStatusName;
  readonly connectionState: ConnectionStateName;
  readonly transport: DeviceTransportName | null;
  /** Last connect, disconnect, message or answered call; ms since the epoch, null if none since start. */
  readonly lastActivity: number | null;
  /** Messages received since the emulator started. */
  readonly telemetryCount: number;
  readonly pendingCloudToDevice: number;
}

export interface DeviceDetail extends DeviceRow {
  readonly generationId: string;
  readonly statusReason: string | null;
  /** The device's connection string with its key replaced by dots: the key itself only on request. */
  readonly maskedConnectionString: string;
}

export interface DevicePage {
  /** Devices that match the query. */
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly items: readonly DeviceRow[];
}

export const DEVICE_PAGE_MAX = 200;
export const DEVICE_FILTERS = {
  status: ['all', 'enabled', 'disabled'],
  connection: ['all', 'connected', 'disconnected'],
} as const;

export interface ConnectionStringReply {
  readonly connectionString: string;
}

export interface MethodReply {
  readonly status: number;
  readonly payload: JsonValue;
  readonly durationMs: number;
}

export interface CloudToDeviceReply {
  readonly messageId: string;
}

/** A device twin, as the service API returns it (the fields the dashboard shows). */
export interface TwinReply {
  readonly deviceId: string;
  readonly etag: string;
  readonly version: number;
  readonly tags: JsonObject;
  readonly properties: { readonly desired: JsonObject; readonly reported: JsonObject };
}

export interface ListReply<T> {
  readonly items: readonly T[];
}

/** Every refusal: a stable code, what is wrong, and the field when one is. */
export interface ErrorReply {
  readonly error: { readonly code: string; readonly message: string; readonly target?: string };
}

/** Stream event names (Server-Sent Events `event:` field). */
export const STREAM_EVENTS = { hubEvent: 'hub-event', stats: 'stats', dropped: 'dropped' } as const;

export interface DroppedMessage {
  /** Events not sent to this page since the last report: it could not take them fast enough. */
  readonly count: number;
}
