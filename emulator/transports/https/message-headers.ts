import type { CloudToDeviceMessage } from '../../hub/c2d/cloud-to-device';
import { hubErrors } from '../../hub/errors';

/**
 * Message properties as IoT Hub's device HTTPS API carries them: request headers (or the keys of a batch's
 * `properties`) for telemetry, response headers for a cloud-to-device message. Pure functions, no I/O.
 */

/** Application properties travel as `iothub-app-<name>` (azure-iot-device-http, the .NET HttpTransportHandler). */
export const APP_PROPERTY_PREFIX = 'iothub-app-';

/**
 * System property headers the device SDKs send, and the names the hub's event log keeps them under: the names the
 * MQTT front gives the same properties (`$.mid` messageId, `$.exp` absoluteExpiryTime, `$.sub` sub, ...), so that
 * a message sent over HTTPS reads back on the Event Hub-compatible endpoint as the same message sent over MQTT.
 * `iothub-to` is the request's routing header (`/devices/{id}/messages/events`), not a property, and is not kept.
 */
const SYSTEM_PROPERTY_HEADERS: Readonly<Record<string, string>> = {
  'iothub-messageid': 'messageId',
  'iothub-correlationid': 'correlationId',
  'iothub-userid': 'userId',
  'iothub-contenttype': 'contentType',
  'iothub-contentencoding': 'contentEncoding',
  'iothub-expiry': 'absoluteExpiryTime',
  'iothub-interface-id': 'interfaceId',
  // The .NET SDK's names for what it writes as `$.ctime`, `$.schema` and `$.sub` over MQTT.
  'iothub-creation-time-utc': 'ctime',
  'iothub-messageschema': 'schema',
  'iothub-component-name': 'sub',
  // azure-iot-device-http sends the `dt-subject` property unprefixed; over MQTT the same SDK writes it as `$.sub`.
  'dt-subject': 'sub',
};

export interface MessageProperties {
  readonly system: Record<string, string>;
  readonly user: Record<string, string>;
}

/**
 * System and application properties from `[name, value]` pairs (request headers with their case as sent, or a
 * batch element's `properties`). Other names (HTTP's own headers) are not properties. A property named twice, or
 * an application property without a name, is IoT Hub's 400 ArgumentInvalid.
 */
export function messageProperties(pairs: Iterable<readonly [string, string]>): MessageProperties {
  // Without prototype: a device's property named `__proto__` is a property like any other.
  const system = Object.create(null) as Record<string, string>;
  const user = Object.create(null) as Record<string, string>;
  for (const [name, value] of pairs) {
    const lower = name.toLowerCase();
    if (lower.startsWith(APP_PROPERTY_PREFIX)) {
      const appName = name.slice(APP_PROPERTY_PREFIX.length);
      if (appName === '')
        throw hubErrors.argumentInvalid('An iothub-app- property needs a name after the prefix.');
      if (appName in user) throw hubErrors.argumentInvalid(`Property ${quote(appName)} is given twice.`);
      user[appName] = value;
      continue;
    }
    const systemName = SYSTEM_PROPERTY_HEADERS[lower];
    if (systemName === undefined) continue;
    if (systemName in system) throw hubErrors.argumentInvalid(`Header ${quote(name)} is given twice.`);
    system[systemName] = systemName === 'absoluteExpiryTime' ? isoIfDate(value) : value;
  }
  return { system, user };
}

/**
 * Request headers as `[name, value]` pairs in the case the client wrote them (Node lower-cases `headers`; property
 * names are case-sensitive), values read as the UTF-8 bytes they were sent as (Node reads header bytes as latin1).
 */
export function rawHeaderPairs(rawHeaders: readonly string[]): [string, string][] {
  const pairs: [string, string][] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    pairs.push([
      rawHeaders[index] ?? '',
      Buffer.from(rawHeaders[index + 1] ?? '', 'latin1').toString('utf8'),
    ]);
  }
  return pairs;
}

/**
 * The Node SDK writes a Date expiry with `String(date)` over HTTPS and with `toISOString()` over MQTT: a date is
 * kept in ISO 8601, as MQTT devices send it; anything else as written.
 */
function isoIfDate(value: string): string {
  const time = Date.parse(value);
  return Number.isFinite(time) ? new Date(time).toISOString() : value;
}

/**
 * The response headers of a received cloud-to-device message (REST "Receive Device Bound Notification", as the
 * SDKs read them: azure-iot-http-base `toMessage`, the .NET HttpTransportHandler): the lock token as a quoted
 * ETag, the system properties as `iothub-*` headers (empty when unset, as IoT Hub sends them), the delivery count
 * as previous deliveries, content type and encoding as `ContentType`/`ContentEncoding` (the names the Azure CLI's
 * `az iot device c2d-message receive` reads), application properties as `iothub-app-<name>`.
 */
export function deviceBoundHeaders(message: CloudToDeviceMessage): Record<string, string> {
  const headers: Record<string, string> = {
    etag: `"${message.lockToken ?? ''}"`,
    'content-type': 'application/octet-stream',
    'iothub-messageid': headerValue(message.messageId ?? ''),
    'iothub-correlationid': headerValue(message.correlationId ?? ''),
    'iothub-userid': headerValue(message.userId ?? ''),
    'iothub-to': headerValue(message.to),
    'iothub-ack': message.ack,
    'iothub-sequencenumber': String(message.sequenceNumber ?? 0),
    'iothub-enqueuedtime': new Date(message.enqueuedTimeMs).toISOString(),
    'iothub-expiry': new Date(message.expiryTimeMs).toISOString(),
    // "Number of times the message has been previously delivered": 0 on the first delivery.
    'iothub-deliverycount': String(Math.max(message.deliveryCount - 1, 0)),
  };
  if (message.contentType !== undefined) headers.ContentType = headerValue(message.contentType);
  if (message.contentEncoding !== undefined) headers.ContentEncoding = headerValue(message.contentEncoding);
  for (const [name, value] of Object.entries(message.properties)) {
    headers[headerName(`${APP_PROPERTY_PREFIX}${name}`)] = headerValue(value);
  }
  return headers;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A property name as a header name: a service may name an AMQP property with characters HTTP forbids in header
 * names (spaces, non-ASCII); those are percent-encoded rather than failing the whole response.
 */
function headerName(name: string): string {
  if (TOKEN.test(name)) return name;
  return encodeURIComponent(name).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/**
 * A value as a header value: its UTF-8 bytes (what a client reading the header as bytes gets back), with the
 * control characters HTTP forbids percent-encoded.
 */
function headerValue(value: string): string {
  let text = '';
  for (const char of Buffer.from(value, 'utf8').toString('latin1')) {
    const code = char.charCodeAt(0);
    const forbidden = (code < 0x20 && code !== 0x09) || code === 0x7f;
    text += forbidden ? `%${code.toString(16).padStart(2, '0').toUpperCase()}` : char;
  }
  return text;
}

function quote(text: string): string {
  return JSON.stringify(text.slice(0, 128));
}
