import type { DeviceSession } from '../../../hub/auth/device-auth';
import { C2D_LIMITS } from '../../../hub/c2d/cloud-to-device';
import { hubErrors } from '../../../hub/errors';
import type { IncomingMessage as TelemetryMessage } from '../../../hub/hub';
import { MAX_MESSAGE_BYTES, messageSize } from '../../../hub/telemetry/message-size';
import { deviceBoundHeaders, messageProperties, rawHeaderPairs } from '../message-headers';
import type { HandlerContext, Reply, Route } from '../route-table';

/**
 * The device side of messaging over HTTPS (REST "IoT Hub device" API): Send Device Event (one message, or a batch
 * as `sendEventBatch` sends it), and cloud-to-device polling with complete, reject and abandon by lock token.
 */

/** `sendEventBatch`'s content type (azure-iot-device-http, the .NET HttpTransportHandler). */
const BATCH_CONTENT_TYPE = 'application/vnd.microsoft.iothub.json';

/**
 * The most a request body may carry: a 256 KB batch written in base64 (4/3 larger) with its JSON around it. Larger
 * bodies are refused (413) before they are buffered; the 256 KB rule itself is applied to the decoded messages.
 */
const MAX_EVENTS_BODY_BYTES = Math.ceil((MAX_MESSAGE_BYTES * 4) / 3) + 64 * 1024;

function sessionOf(device: DeviceSession | undefined): DeviceSession {
  // The front authorizes every device route before its handler runs; no session here is the emulator's bug.
  if (!device) throw new Error('device route handled without an authorized device');
  return device;
}

/**
 * `POST /devices/{id}/messages/events`: the body is the message, its properties are headers; with the batch
 * content type, the body is a JSON array of `{body (base64), properties}`. Answered 204 once every message is on
 * disk in the same event log as MQTT and AMQP telemetry. A message or batch over 256 KB is 413 MessageTooLarge.
 */
async function sendEvent({ hub, device, body, request }: HandlerContext): Promise<Reply> {
  const session = sessionOf(device);
  const bytes = body as Buffer;
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  const messages: TelemetryMessage[] =
    contentType === BATCH_CONTENT_TYPE
      ? parseBatch(bytes)
      : [toTelemetry(bytes, messageProperties(rawHeaderPairs(request.rawHeaders)))];
  if (messages.length > 1) {
    const total = messages.reduce(
      (sum, message) =>
        sum + messageSize(message.body, message.systemProperties, message.applicationProperties),
      0,
    );
    if (total > MAX_MESSAGE_BYTES) {
      throw hubErrors.messageTooLarge(
        `The batch is ${total} bytes (bodies and properties); IoT Hub accepts at most ${MAX_MESSAGE_BYTES}.`,
      );
    }
  }
  // Appended in order (the log assigns sequence numbers as each append is called), made durable together.
  await Promise.all(messages.map((message) => hub.receiveTelemetry(session, message)));
  return { status: 204 };
}

function toTelemetry(
  body: Buffer,
  properties: { system: Record<string, string>; user: Record<string, string> },
): TelemetryMessage {
  return { body, systemProperties: properties.system, applicationProperties: properties.user };
}

/**
 * A batch as the SDKs write it: `[{"body": "<base64>", "base64Encoded"?: true, "properties"?: {"iothub-app-x":
 * "v", "iothub-messageid": "m", ...}}, ...]` (`base64Encoded` false: the body is text). 400 for anything else.
 */
function parseBatch(bytes: Buffer): TelemetryMessage[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw hubErrors.formatError('The batch is not valid JSON.');
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw hubErrors.argumentInvalid(
      'A batch must be a JSON array of at least one {body, properties} object.',
    );
  }
  return parsed.map((element: unknown, index) => {
    if (typeof element !== 'object' || element === null || Array.isArray(element)) {
      throw hubErrors.argumentInvalid(`Batch element ${index} is not a {body, properties} object.`);
    }
    const { body, base64Encoded, properties } = element as Record<string, unknown>;
    if (typeof body !== 'string')
      throw hubErrors.argumentInvalid(`Batch element ${index} has no string body.`);
    if (base64Encoded !== undefined && typeof base64Encoded !== 'boolean') {
      throw hubErrors.argumentInvalid(`Batch element ${index}: base64Encoded must be true or false.`);
    }
    return toTelemetry(
      base64Encoded === false ? Buffer.from(body, 'utf8') : decodeBase64(body, index),
      messageProperties(propertyPairs(properties, index)),
    );
  });
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Node's decoder skips what is not base64; IoT Hub refuses such a body, so the text is checked first. */
function decodeBase64(text: string, index: number): Buffer {
  if (!BASE64.test(text)) throw hubErrors.argumentInvalid(`Batch element ${index}: the body is not base64.`);
  return Buffer.from(text, 'base64');
}

function propertyPairs(properties: unknown, index: number): [string, string][] {
  if (properties === undefined || properties === null) return [];
  if (typeof properties !== 'object' || Array.isArray(properties)) {
    throw hubErrors.argumentInvalid(`Batch element ${index}: properties must be an object of strings.`);
  }
  return Object.entries(properties as Record<string, unknown>).map(([name, value]) => {
    // The .NET SDK writes system properties with their JSON types (numbers, dates as strings).
    if (typeof value === 'string') return [name, value];
    if (typeof value === 'number' || typeof value === 'boolean') return [name, String(value)];
    throw hubErrors.argumentInvalid(
      `Batch element ${index}: property ${JSON.stringify(name.slice(0, 128))} is not a string.`,
    );
  });
}

/**
 * The lock a poll asks for, in seconds (`IotHub-MessageLockTimeout`: a header for the Java SDK and the Azure CLI,
 * a query parameter for the .NET SDK); IoT Hub's minute without one.
 */
function lockTimeoutMs({ request, query }: HandlerContext): number {
  const header = request.headers['iothub-messagelocktimeout'];
  let text = typeof header === 'string' ? header : undefined;
  for (const [name, value] of query) if (name.toLowerCase() === 'iothub-messagelocktimeout') text ??= value;
  if (text === undefined) return C2D_LIMITS.lockMs;
  const seconds = /^\d{1,6}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  const ms = seconds * 1000;
  if (!(ms >= C2D_LIMITS.minLockMs && ms <= C2D_LIMITS.maxLockMs)) {
    throw hubErrors.argumentInvalid(
      `IotHub-MessageLockTimeout must be a whole number of seconds from ${C2D_LIMITS.minLockMs / 1000} to ${C2D_LIMITS.maxLockMs / 1000}.`,
    );
  }
  return ms;
}

/**
 * `GET /devices/{id}/messages/deviceBound`: the next cloud-to-device message, locked (200 with the body and its
 * properties as headers, the lock token as ETag), or 204 when none is waiting. An HTTPS device is not connected:
 * it polls the same queue MQTT and AMQP connections are fed from.
 */
function receive(context: HandlerContext): Promise<Reply> {
  const { hub, device } = context;
  const lockMs = lockTimeoutMs(context);
  const message = hub.cloudToDevice.receive(sessionOf(device).device.deviceId, Date.now(), lockMs);
  if (!message) return Promise.resolve({ status: 204 });
  return Promise.resolve({ status: 200, body: message.body, headers: deviceBoundHeaders(message) });
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The lock token of a settle request: the path's `{etag}`, with or without the quotes of the ETag header it came
 * from. IoT Hub's lock tokens are GUIDs: anything else is 400; a GUID that locks nothing is 412.
 */
function lockTokenOf({ params }: HandlerContext): string {
  const raw = params.etag ?? '';
  const token = raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw;
  if (!GUID.test(token)) {
    throw hubErrors.argumentInvalid(
      `${JSON.stringify(raw.slice(0, 64))} is not a lock token (an ETag received with a message).`,
    );
  }
  return token.toLowerCase();
}

/** `DELETE /devices/{id}/messages/deviceBound/{etag}`: completes the message; with `?reject`, rejects it. 204. */
function completeOrReject(context: HandlerContext): Promise<Reply> {
  const { hub, device, query } = context;
  const lockToken = lockTokenOf(context);
  const deviceId = sessionOf(device).device.deviceId;
  if (query.has('reject')) hub.cloudToDevice.reject(deviceId, lockToken);
  else hub.cloudToDevice.complete(deviceId, lockToken);
  return Promise.resolve({ status: 204 });
}

/** `POST /devices/{id}/messages/deviceBound/{etag}/abandon`: back to the queue, delivered again later. 204. */
function abandon(context: HandlerContext): Promise<Reply> {
  const { hub, device } = context;
  const lockToken = lockTokenOf(context);
  hub.cloudToDevice.abandon(sessionOf(device).device.deviceId, lockToken);
  return Promise.resolve({ status: 204 });
}

export const deviceMessageRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: 'devices/{deviceId}/messages/events',
    right: 'DeviceConnect',
    audience: 'device',
    shape: 'error-code-prefix',
    body: 'raw',
    maxBodyBytes: MAX_EVENTS_BODY_BYTES,
    handle: sendEvent,
  },
  {
    method: 'GET',
    path: 'devices/{deviceId}/messages/deviceBound',
    right: 'DeviceConnect',
    audience: 'device',
    shape: 'error-code-prefix',
    handle: receive,
  },
  {
    method: 'DELETE',
    path: 'devices/{deviceId}/messages/deviceBound/{etag}',
    right: 'DeviceConnect',
    audience: 'device',
    shape: 'error-code-prefix',
    handle: completeOrReject,
  },
  {
    method: 'POST',
    path: 'devices/{deviceId}/messages/deviceBound/{etag}/abandon',
    right: 'DeviceConnect',
    audience: 'device',
    shape: 'error-code-prefix',
    handle: abandon,
  },
];
