import { crc32 } from 'node:zlib';

/** One device-to-cloud message as the Event Hub-compatible endpoint serves it. */
export interface TelemetryEvent {
  readonly partitionId: string;
  readonly sequenceNumber: number;
  /** Event Hubs offsets are strings; here the byte position of the event's record in its partition's log. */
  readonly offset: string;
  readonly enqueuedTimeUtc: Date;
  readonly deviceId: string;
  /** The module that sent it (`iothub-connection-module-id`), absent for the device's own messages. */
  readonly moduleId?: string | undefined;
  readonly authGenerationId: string;
  readonly body: Buffer;
  /** IoT Hub system properties from the MQTT topic (`$.mid`, `$.cid`, `$.ct`, `$.ce`, ...). */
  readonly systemProperties: Readonly<Record<string, string>>;
  /** The device's user properties, served as AMQP application properties. */
  readonly applicationProperties: Readonly<Record<string, string>>;
}

export type NewTelemetry = Omit<
  TelemetryEvent,
  'partitionId' | 'sequenceNumber' | 'offset' | 'enqueuedTimeUtc'
>;

/** What is stored in a record besides the body. Short keys: this header is written once per event. */
interface RecordHeader {
  s: number;
  t: number;
  d: string;
  /** Module id; absent in device messages and in records written before modules existed. */
  m?: string;
  g: string;
  p: Record<string, string>;
  a: Record<string, string>;
}

/*
 * Record layout (little-endian):
 *   u32 length of what follows the CRC field (header length field + header + body)
 *   u32 CRC-32 of those bytes, so a record torn by a crash is recognised and cut off at recovery
 *   u32 header length, header (JSON), body
 */
export const RECORD_PREFIX_BYTES = 8;

export function encodeRecord(message: NewTelemetry, sequenceNumber: number, enqueuedMs: number): Buffer {
  const header: RecordHeader = {
    s: sequenceNumber,
    t: enqueuedMs,
    d: message.deviceId,
    ...(message.moduleId === undefined ? {} : { m: message.moduleId }),
    g: message.authGenerationId,
    p: { ...message.systemProperties },
    a: { ...message.applicationProperties },
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const payloadLength = 4 + headerBytes.length + message.body.length;
  const record = Buffer.allocUnsafe(RECORD_PREFIX_BYTES + payloadLength);
  record.writeUInt32LE(payloadLength, 0);
  record.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(record, 12);
  message.body.copy(record, 12 + headerBytes.length);
  record.writeUInt32LE(crc32(record.subarray(RECORD_PREFIX_BYTES)), 4);
  return record;
}

export type DecodeResult =
  | { kind: 'record'; length: number; sequenceNumber: number; enqueuedMs: number; decode: () => DecodedEvent }
  | { kind: 'incomplete' }
  | { kind: 'corrupt'; reason: string };

export type DecodedEvent = Omit<TelemetryEvent, 'partitionId' | 'offset'>;

/**
 * Reads the record at `position` in `buffer`. The sequence number and time are read eagerly (scans need only
 * those); the full event is decoded on demand.
 */
export function decodeRecord(buffer: Buffer, position: number): DecodeResult {
  if (buffer.length - position < RECORD_PREFIX_BYTES) return { kind: 'incomplete' };
  const payloadLength = buffer.readUInt32LE(position);
  const end = position + RECORD_PREFIX_BYTES + payloadLength;
  if (payloadLength < 4) return { kind: 'corrupt', reason: `record length ${payloadLength}` };
  if (end > buffer.length) return { kind: 'incomplete' };
  const payload = buffer.subarray(position + RECORD_PREFIX_BYTES, end);
  if (crc32(payload) !== buffer.readUInt32LE(position + 4))
    return { kind: 'corrupt', reason: 'CRC mismatch' };
  const headerLength = payload.readUInt32LE(0);
  if (4 + headerLength > payload.length) return { kind: 'corrupt', reason: 'header overruns the record' };
  let header: RecordHeader;
  try {
    header = JSON.parse(payload.subarray(4, 4 + headerLength).toString('utf8')) as RecordHeader;
  } catch {
    return { kind: 'corrupt', reason: 'unreadable header' };
  }
  if (typeof header.s !== 'number' || typeof header.t !== 'number') {
    return { kind: 'corrupt', reason: 'header without sequence number or time' };
  }
  return {
    kind: 'record',
    length: RECORD_PREFIX_BYTES + payloadLength,
    sequenceNumber: header.s,
    enqueuedMs: header.t,
    decode: () => ({
      sequenceNumber: header.s,
      enqueuedTimeUtc: new Date(header.t),
      deviceId: header.d,
      ...(typeof header.m === 'string' ? { moduleId: header.m } : {}),
      authGenerationId: header.g,
      // A copy: the read buffer is reused, and events may outlive it in the tail cache.
      body: Buffer.from(payload.subarray(4 + headerLength)),
      systemProperties: header.p,
      applicationProperties: header.a,
    }),
  };
}
