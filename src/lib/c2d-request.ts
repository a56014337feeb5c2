import { randomUUID } from 'node:crypto';
import { RequestTooLargeError } from './error-mapping';
import { ValidationError } from './errors';
import { DEVICE_ID_RULE, isValidDeviceId } from './iothub-rules';
import { jsonDepth } from './json-depth';
import { parseJsonObjectBody } from './json-body';

/** How the sender asks to hear about the message's fate (IoT Hub's `iothub-ack`). */
export type AckMode = 'none' | 'positive' | 'negative' | 'full';

/** A validated cloud-to-device message, ready for the IoT Hub service client. */
export interface CloudToDeviceRequest {
  readonly deviceId: string;
  readonly body: Buffer;
  /** Always set (generated when the caller gives none): feedback records name messages by it. */
  readonly messageId: string;
  readonly correlationId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly ack: AckMode;
  /** Absent: the hub's default time to live (1 hour). */
  readonly expiryTimeUtc?: Date;
  readonly properties: Readonly<Record<string, string>>;
}

/** IoT Hub's limits for cloud-to-device messages (IoT Hub quotas and throttling; C2D messaging guide). */
export const C2D_MESSAGE_MAX_BYTES = 64 * 1024;
export const C2D_MAX_TTL_SECONDS = 48 * 3600;
/**
 * The longest request body read at all. A 64 KB message cannot take more than this as JSON even with every byte
 * escaped (`\u0000` is 6 bytes for 1), so a longer body is refused before it is parsed.
 */
export const C2D_REQUEST_MAX_BYTES = 1024 * 1024;
/** Nesting bound of `payload`, as for method payloads: deeper JSON is not expected to work across IoT Hub. */
const PAYLOAD_MAX_DEPTH = 64;

const ACK_MODES: readonly AckMode[] = ['none', 'positive', 'negative', 'full'];
const BODY_FIELDS = new Set([
  'payload',
  'body',
  'properties',
  'ack',
  'expiryTimeUtc',
  'ttlSeconds',
  'messageId',
  'correlationId',
  'contentType',
  'contentEncoding',
]);

/** IoT Hub's message-id format: up to 128 ASCII letters, digits and `- : . + % _ # * ? ! ( ) , = @ ; $ '`. */
const MESSAGE_ID = /^[A-Za-z0-9\-:.+%_#*?!(),=@;$']{1,128}$/;
const MESSAGE_ID_RULE =
  "up to 128 ASCII letters, digits and the characters - : . + % _ # * ? ! ( ) , = @ ; $ '";
/** IoT Hub: C2D property names and values hold only ASCII letters, digits and `! # $ % & ' * + - . ^ _ \` | ~`. */
const PROPERTY_TEXT = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]*$/;
const PROPERTY_RULE = "ASCII letters, digits and the characters ! # $ % & ' * + - . ^ _ ` | ~";
/**
 * IoT Hub documents no format for these; they travel as AMQP strings and, to MQTT devices, URL-encoded in the topic.
 * Printable ASCII keeps them readable on every transport.
 */
const SYSTEM_TEXT = /^[\x20-\x7e]{1,128}$/;
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,9})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

/**
 * Validates the route's device id and the JSON body of `POST /api/devices/{deviceId}/messages` against IoT Hub's
 * rules, so that bad input gets a 400 naming the field (413 when the message is too large) instead of costing a hub
 * call. `payload` (any JSON, sent as JSON text) or `body` (a string, sent as is) is the message body.
 */
export function parseCloudToDeviceRequest(
  params: Readonly<Record<string, string | undefined>>,
  bodyText: string,
  nowMs: number = Date.now(),
  newMessageId: () => string = randomUUID,
): CloudToDeviceRequest {
  const deviceId = params.deviceId ?? '';
  if (!isValidDeviceId(deviceId)) {
    throw new ValidationError(
      'InvalidDeviceId',
      'deviceId',
      `The device id ${quote(deviceId)} is invalid: use ${DEVICE_ID_RULE}.`,
    );
  }
  const fields = parseBody(bodyText);
  for (const key of Object.keys(fields)) {
    if (!BODY_FIELDS.has(key)) {
      throw new ValidationError(
        'UnknownField',
        key,
        `Unknown field ${quote(key)}; the body accepts ${[...BODY_FIELDS].join(', ')}.`,
      );
    }
  }
  const given = (key: string) => fields[key] !== undefined && fields[key] !== null;
  const { body, isJson } = readBody(fields);
  const properties = readProperties(fields.properties);
  const messageId = given('messageId') ? readMessageId(fields.messageId) : newMessageId();
  const correlationId = readSystemText(fields, 'correlationId');
  const contentType = readSystemText(fields, 'contentType') ?? (isJson ? 'application/json' : undefined);
  const contentEncoding = readSystemText(fields, 'contentEncoding') ?? (isJson ? 'utf-8' : undefined);
  const ack = readAck(fields.ack);
  if (given('expiryTimeUtc') && given('ttlSeconds')) {
    throw new ValidationError(
      'ConflictingFields',
      'ttlSeconds',
      'Give expiryTimeUtc or ttlSeconds, not both.',
    );
  }
  const expiryTimeUtc = given('expiryTimeUtc')
    ? readExpiry(fields.expiryTimeUtc, nowMs)
    : given('ttlSeconds')
      ? new Date(nowMs + readTtlSeconds(fields.ttlSeconds) * 1000)
      : undefined;

  const request: CloudToDeviceRequest = {
    deviceId,
    body,
    messageId,
    ack,
    properties,
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(contentType === undefined ? {} : { contentType }),
    ...(contentEncoding === undefined ? {} : { contentEncoding }),
    ...(expiryTimeUtc === undefined ? {} : { expiryTimeUtc }),
  };
  const size = cloudToDeviceMessageSize(request);
  if (size > C2D_MESSAGE_MAX_BYTES) {
    throw new RequestTooLargeError(
      'MessageTooLarge',
      isJson ? 'payload' : 'body',
      `The message is ${size} bytes (body, properties and system property values); cloud-to-device messages are limited to ${C2D_MESSAGE_MAX_BYTES} bytes (64 KB).`,
    );
  }
  return request;
}

/**
 * A message's size as IoT Hub counts it against its limit: the body, the values of the system properties and the
 * names and values of the application properties, in UTF-8 bytes (IoT Hub messaging guide, message size).
 */
export function cloudToDeviceMessageSize(request: CloudToDeviceRequest): number {
  const systemValues = [
    request.messageId,
    request.correlationId,
    request.contentType,
    request.contentEncoding,
    request.ack,
    `/devices/${request.deviceId}/messages/devicebound`,
  ];
  let size = request.body.length;
  for (const value of systemValues) if (value !== undefined) size += Buffer.byteLength(value, 'utf8');
  for (const [name, value] of Object.entries(request.properties)) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  return size;
}

function parseBody(text: string): Record<string, unknown> {
  if (Buffer.byteLength(text, 'utf8') > C2D_REQUEST_MAX_BYTES) {
    throw new RequestTooLargeError(
      'MessageTooLarge',
      'body',
      `The request body is over ${C2D_REQUEST_MAX_BYTES} bytes; cloud-to-device messages are limited to ${C2D_MESSAGE_MAX_BYTES} bytes (64 KB).`,
    );
  }
  if (text.trim() === '') {
    throw new ValidationError(
      'MissingBody',
      'body',
      'The request body must be a JSON object such as {"payload": {"command": "reboot"}}.',
    );
  }
  return parseJsonObjectBody(text, '{"payload": {"command": "reboot"}}');
}

/** The message body: `payload` as JSON text, or `body` as given; exactly one of them. */
function readBody(fields: Record<string, unknown>): { body: Buffer; isJson: boolean } {
  const hasPayload = Object.hasOwn(fields, 'payload');
  const hasBody = Object.hasOwn(fields, 'body');
  if (hasPayload && hasBody) {
    throw new ValidationError(
      'ConflictingFields',
      'body',
      'Give payload (any JSON, sent as JSON) or body (a string, sent as is), not both.',
    );
  }
  if (hasBody) {
    if (typeof fields.body !== 'string') {
      throw new ValidationError(
        'InvalidMessageBody',
        'body',
        'body must be a string; send JSON values with payload instead.',
      );
    }
    return { body: Buffer.from(fields.body, 'utf8'), isJson: false };
  }
  if (!hasPayload) {
    throw new ValidationError(
      'MissingPayload',
      'payload',
      'Give the message as payload (any JSON) or body (a string).',
    );
  }
  // Checked before serializing: JSON.stringify recurses, and deep nesting costs little to send.
  if (jsonDepth(fields.payload, PAYLOAD_MAX_DEPTH) > PAYLOAD_MAX_DEPTH) {
    throw new ValidationError(
      'PayloadTooDeep',
      'payload',
      `The payload nests arrays and objects more than ${PAYLOAD_MAX_DEPTH} levels deep; at most ${PAYLOAD_MAX_DEPTH} are accepted.`,
    );
  }
  return { body: Buffer.from(JSON.stringify(fields.payload), 'utf8'), isJson: true };
}

function readProperties(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError(
      'InvalidProperties',
      'properties',
      'properties must be an object of string values, such as {"priority": "high"}.',
    );
  }
  // Without prototype, so that a property named __proto__ is data like any other.
  const properties = Object.create(null) as Record<string, string>;
  for (const [name, propertyValue] of Object.entries(value)) {
    if (name === '' || !PROPERTY_TEXT.test(name)) {
      throw new ValidationError(
        'InvalidPropertyName',
        'properties',
        `The property name ${quote(name)} is invalid: use ${PROPERTY_RULE}.`,
      );
    }
    // IoT Hub's own properties travel with this prefix (iothub-ack, iothub-connection-device-id, ...).
    if (name.toLowerCase().startsWith('iothub-')) {
      throw new ValidationError(
        'InvalidPropertyName',
        'properties',
        `The property name ${quote(name)} is reserved: IoT Hub uses the prefix "iothub-" for its own properties.`,
      );
    }
    if (typeof propertyValue !== 'string' || !PROPERTY_TEXT.test(propertyValue)) {
      throw new ValidationError(
        'InvalidPropertyValue',
        'properties',
        `The value of property ${quote(name)} must be a string of ${PROPERTY_RULE}.`,
      );
    }
    properties[name] = propertyValue;
  }
  return properties;
}

function readMessageId(value: unknown): string {
  if (typeof value !== 'string' || !MESSAGE_ID.test(value)) {
    throw new ValidationError(
      'InvalidMessageId',
      'messageId',
      `messageId must be ${MESSAGE_ID_RULE} (omit it to get a generated one).`,
    );
  }
  return value;
}

function readSystemText(
  fields: Record<string, unknown>,
  field: 'correlationId' | 'contentType' | 'contentEncoding',
): string | undefined {
  const value = fields[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || !SYSTEM_TEXT.test(value)) {
    throw new ValidationError(
      'InvalidSystemProperty',
      field,
      `${field} must be a string of 1 to 128 printable ASCII characters.`,
    );
  }
  return value;
}

function readAck(value: unknown): AckMode {
  if (value === undefined || value === null) return 'none';
  const mode = ACK_MODES.find((ack) => ack === value);
  if (mode === undefined) {
    throw new ValidationError(
      'InvalidAck',
      'ack',
      `ack must be one of ${ACK_MODES.join(', ')} (default none).`,
    );
  }
  return mode;
}

function readExpiry(value: unknown, nowMs: number): Date {
  const rule = `expiryTimeUtc must be an ISO 8601 date and time with a time zone (e.g. 2030-01-01T12:00:00Z), later than now and at most ${C2D_MAX_TTL_SECONDS / 3600} hours from now.`;
  if (typeof value !== 'string' || !isCalendarDate(value)) {
    throw new ValidationError('InvalidExpiry', 'expiryTimeUtc', rule);
  }
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || ms <= nowMs || ms > nowMs + C2D_MAX_TTL_SECONDS * 1000) {
    throw new ValidationError('InvalidExpiry', 'expiryTimeUtc', rule);
  }
  return new Date(ms);
}

/** ISO 8601 with a time zone, and a real date: Date.parse reads 2030-02-31 as March 3rd. */
function isCalendarDate(text: string): boolean {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return false;
  const [year, month, day] = [match[1], match[2], match[3]].map(Number) as [number, number, number];
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day && month >= 1 && month <= 12;
}

function readTtlSeconds(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > C2D_MAX_TTL_SECONDS) {
    throw new ValidationError(
      'InvalidExpiry',
      'ttlSeconds',
      `ttlSeconds must be a whole number of seconds from 1 to ${C2D_MAX_TTL_SECONDS} (48 hours).`,
    );
  }
  return value;
}

/** A value quoted for an error message, cut so that a huge input is not echoed whole. */
function quote(text: string): string {
  return JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}…` : text);
}
