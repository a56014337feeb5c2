import { PREVIEW_MAX_CHARS, safePreview } from './log-text';
import { EMPTY_METADATA, field, matchingKey, type EventMetadata } from './trigger-metadata';

export type { EventMetadata } from './trigger-metadata';

/**
 * Where an event came from, read from the Event Hub trigger's metadata. Every field is optional: the metadata
 * arrays may be shorter than the batch, and a misconfigured trigger may send none.
 */
export interface EventOrigin {
  readonly deviceId?: string;
  /** Set when an IoT Edge module, not the device itself, sent the message. */
  readonly moduleId?: string;
  /** `iothub-message-source`: `Telemetry` for device-to-cloud messages, otherwise e.g. `twinChangeEvents`. */
  readonly source?: string;
  /** ISO 8601, UTC. */
  readonly enqueuedTime?: string;
  readonly partitionId?: string;
  readonly sequenceNumber?: number;
  readonly offset?: string;
}

/** A JSON object body. Fields the device did not send, or sent with the wrong type, are null. */
export interface TelemetryReading extends EventOrigin {
  readonly kind: 'reading';
  readonly temperature: number | null;
  readonly humidity: number | null;
  /** From the application property `temperatureAlert` (`'true'`/`'false'`); null when absent or neither. */
  readonly temperatureAlert: boolean | null;
  /** The other application properties (and `temperatureAlert` itself when it is neither true nor false). */
  readonly properties: Readonly<Record<string, unknown>>;
}

export type MalformedReason = 'empty' | 'not-utf8' | 'not-json' | 'unexpected-shape' | 'unreadable';
export type BodyShape = 'array' | 'string' | 'number' | 'boolean' | 'null' | 'other';

/** A body that is not a JSON object. `preview` is safe to log: short, secrets redacted, control characters escaped. */
export interface MalformedTelemetry extends EventOrigin {
  readonly kind: 'malformed';
  readonly reason: MalformedReason;
  /** For `unexpected-shape`: what the JSON body is instead of an object. */
  readonly shape?: BodyShape;
  /** Size of the body in bytes (UTF-8 for text; of its JSON text when the host delivered it already parsed). */
  readonly bytes: number;
  /** The start of the body, escaped as in a JSON string literal (without the quotes), `…` when cut. */
  readonly preview: string;
}

export type TelemetryEvent = TelemetryReading | MalformedTelemetry;

/**
 * Reads one telemetry event: the body as the trigger delivers it and its metadata. With `dataType: 'string'` the
 * host sends text, but @azure/functions JSON-parses every string that parses, so a JSON body arrives as an
 * object (or array, number...) and only other text as a string; `binary` gives bytes. Never throws: anything unreadable becomes a
 * `malformed` result, so that one bad event cannot stop a batch.
 */
export function parseTelemetryEvent(body: unknown, metadata: EventMetadata = EMPTY_METADATA): TelemetryEvent {
  let origin: EventOrigin = {};
  try {
    origin = readOrigin(metadata);
    return { ...origin, ...readBody(body, metadata.applicationProperties) };
  } catch {
    return { ...origin, kind: 'malformed', reason: 'unreadable', bytes: 0, preview: '' };
  }
}

type BodyResult = Omit<TelemetryReading, keyof EventOrigin> | Omit<MalformedTelemetry, keyof EventOrigin>;

function readBody(body: unknown, applicationProperties: Readonly<Record<string, unknown>>): BodyResult {
  if (typeof body === 'string')
    return fromText(stripBom(body), Buffer.byteLength(body, 'utf8'), applicationProperties);
  const bytes = asBytes(body);
  if (bytes) {
    let text: string;
    try {
      // fatal: binary data is reported as such rather than parsed with replacement characters.
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      // Invalid sequences show as U+FFFD; only the start is decoded.
      const head = bytes.subarray(0, PREVIEW_MAX_CHARS * 4);
      const preview = safePreview(new TextDecoder('utf-8').decode(head));
      const cut = head.byteLength < bytes.byteLength && !preview.endsWith('…');
      return {
        kind: 'malformed',
        reason: 'not-utf8',
        bytes: bytes.byteLength,
        preview: cut ? `${preview}…` : preview,
      };
    }
    // TextDecoder drops a leading byte order mark by itself.
    return fromText(text, bytes.byteLength, applicationProperties);
  }
  if (body === undefined) return { kind: 'malformed', reason: 'empty', bytes: 0, preview: '' };
  // Already parsed JSON (see above): objects, arrays, numbers, booleans, null.
  return fromValue(body, jsonText(body), applicationProperties);
}

function fromText(
  text: string,
  bytes: number,
  applicationProperties: Readonly<Record<string, unknown>>,
): BodyResult {
  if (text === '') return { kind: 'malformed', reason: 'empty', bytes, preview: '' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The parser's own message is not used: newer V8 versions quote the input in it, unescaped.
    return { kind: 'malformed', reason: 'not-json', bytes, preview: safePreview(text) };
  }
  return fromValue(value, { text, bytes }, applicationProperties);
}

function fromValue(
  value: unknown,
  source: { readonly text: string; readonly bytes: number },
  applicationProperties: Readonly<Record<string, unknown>>,
): BodyResult {
  const shape = shapeOf(value);
  if (shape !== 'object') {
    return {
      kind: 'malformed',
      reason: 'unexpected-shape',
      shape,
      bytes: source.bytes,
      preview: safePreview(source.text),
    };
  }
  const reading = value as Record<string, unknown>;
  const { temperatureAlert, properties } = readApplicationProperties(applicationProperties);
  return {
    kind: 'reading',
    temperature: finiteNumber(field(reading, 'temperature')),
    humidity: finiteNumber(field(reading, 'humidity')),
    temperatureAlert,
    properties,
  };
}

function readApplicationProperties(applicationProperties: Readonly<Record<string, unknown>>): {
  temperatureAlert: boolean | null;
  properties: Record<string, unknown>;
} {
  const alertKey = matchingKey(applicationProperties, 'temperatureAlert');
  const temperatureAlert = alertKey === undefined ? null : toBoolean(applicationProperties[alertKey]);
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(applicationProperties)) {
    // An alert value that is neither true nor false stays visible among the properties.
    if (key !== alertKey || temperatureAlert === null) properties[key] = value;
  }
  return { temperatureAlert, properties };
}

function readOrigin(metadata: EventMetadata): EventOrigin {
  const system = metadata.systemProperties;
  const deviceId = nonEmptyString(field(system, 'iothub-connection-device-id'));
  const moduleId = nonEmptyString(field(system, 'iothub-connection-module-id'));
  const source = nonEmptyString(field(system, 'iothub-message-source'));
  const enqueuedTime = firstDefined(
    [
      metadata.enqueuedTimeUtc,
      field(system, 'x-opt-enqueued-time'),
      field(system, 'iothub-enqueuedtime'),
      field(system, 'enqueuedTimeUtc'),
    ],
    isoTime,
  );
  const sequenceNumber = firstDefined(
    [metadata.sequenceNumber, field(system, 'x-opt-sequence-number'), field(system, 'sequenceNumber')],
    wholeNumber,
  );
  const offset = firstDefined(
    [metadata.offset, field(system, 'x-opt-offset'), field(system, 'offsetString'), field(system, 'offset')],
    idText,
  );
  const partitionId = idText(metadata.partitionId);
  return {
    ...(deviceId === undefined ? {} : { deviceId }),
    ...(moduleId === undefined ? {} : { moduleId }),
    ...(source === undefined ? {} : { source }),
    ...(enqueuedTime === undefined ? {} : { enqueuedTime }),
    ...(partitionId === undefined ? {} : { partitionId }),
    ...(sequenceNumber === undefined ? {} : { sequenceNumber }),
    ...(offset === undefined ? {} : { offset }),
  };
}

function shapeOf(value: unknown): BodyShape | 'object' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'object':
      return 'object';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'number':
      return 'number';
    default:
      // Nothing JSON produces; a host could still hand over a bigint or a function.
      return 'other';
  }
}

function asBytes(body: unknown): Uint8Array | undefined {
  if (body instanceof Uint8Array) return body; // Buffer included
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return undefined;
}

/** JSON.stringify as it behaves: undefined for functions, symbols and undefined, whatever its type says. */
const stringify: (value: unknown) => string | undefined = JSON.stringify;

/** JSON text of an already-parsed body, for its size and preview; String() for what JSON cannot express. */
function jsonText(value: unknown): { text: string; bytes: number } {
  let text: string;
  try {
    text = stringify(value) ?? String(value);
  } catch {
    text = typeof value === 'bigint' ? value.toString() : Object.prototype.toString.call(value);
  }
  return { text, bytes: Buffer.byteLength(text, 'utf8') };
}

function stripBom(text: string): string {
  return text.startsWith('\ufeff') ? text.slice(1) : text;
}

function firstDefined<T>(
  candidates: readonly unknown[],
  read: (value: unknown) => T | undefined,
): T | undefined {
  for (const candidate of candidates) {
    const value = read(candidate);
    if (value !== undefined) return value;
  }
  return undefined;
}

function finiteNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function toBoolean(value: unknown): boolean | null {
  if (typeof value === 'boolean') return value;
  if (typeof value !== 'string') return null;
  const text = value.trim().toLowerCase();
  return text === 'true' ? true : text === 'false' ? false : null;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Sequence numbers are longs, which reach the worker as JSON numbers (or digit strings). */
function wholeNumber(value: unknown): number | undefined {
  const number =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d{1,16}$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

/** Offsets and partition ids are strings; some hosts send them as numbers (.NET writes -1 for "unknown"). */
function idText(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : undefined;
}

/** ISO 8601 with an optional offset; a date-time without one is UTC (the host sends DateTime.Kind Unspecified). */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * A time as the host or the hub writes it: an ISO string, with or without an offset (the Event Hubs extension
 * sends a DateTime without one; metadata reaches the worker as JSON, so never as a Date or a number). Times
 * before 1970 are treated as absent: .NET writes DateTime.MinValue (year 1) for a time it does not have.
 */
function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = ISO_TIME.exec(value.trim());
  if (!match) return undefined;
  const ms = Date.parse(match[1] === undefined ? `${value.trim()}Z` : value.trim());
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
