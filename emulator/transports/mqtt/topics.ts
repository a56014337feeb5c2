/** Parsing and building of the MQTT topics IoT Hub uses with devices. */

export interface TelemetryProperties {
  /** System properties by their long names (messageId, correlationId, contentType, ...). */
  readonly system: Readonly<Record<string, string>>;
  /** The device's own (user) properties. */
  readonly user: Readonly<Record<string, string>>;
}

/** Short property-bag names the device SDK writes for system properties (`$.mid`), and their long names. */
const SYSTEM_PROPERTY_NAMES: Readonly<Record<string, string>> = {
  '$.mid': 'messageId',
  '$.cid': 'correlationId',
  '$.uid': 'userId',
  '$.to': 'to',
  '$.ct': 'contentType',
  '$.ce': 'contentEncoding',
  '$.exp': 'absoluteExpiryTime',
  '$.ifid': 'interfaceId',
  '$.cdid': 'connectionDeviceId',
  '$.cmid': 'connectionModuleId',
};

export type DeviceTopic =
  | { kind: 'telemetry'; properties: TelemetryProperties }
  | { kind: 'method-response'; status: number; requestId: string }
  | { kind: 'twin-get'; requestId: string }
  | { kind: 'twin-reported'; requestId: string }
  | { kind: 'invalid'; reason: string };

const METHOD_RESPONSE = /^\$iothub\/methods\/res\/(-?\d{1,10})\/\?(.*)$/;
/** Method statuses are 32-bit integers in IoT Hub's REST answer. */
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const TWIN_GET = /^\$iothub\/twin\/GET\/\?(.*)$/;
const TWIN_REPORTED = /^\$iothub\/twin\/PATCH\/properties\/reported\/\?(.*)$/;

/** An identity's topic root: `devices/{d}` for a device, `devices/{d}/modules/{m}` for a module. */
export function identityTopicRoot(deviceId: string, moduleId?: string): string {
  return moduleId === undefined ? `devices/${deviceId}` : `devices/${deviceId}/modules/${moduleId}`;
}

/**
 * Classifies a topic a device (or, with `moduleId`, a module) publishes to; anything outside its own topics is
 * `invalid`. Modules use devices' method and twin topics, and `devices/{d}/modules/{m}/messages/events/` for
 * telemetry.
 */
export function parseDevicePublishTopic(deviceId: string, topic: string, moduleId?: string): DeviceTopic {
  const root = identityTopicRoot(deviceId, moduleId);
  const telemetryPrefix = `${root}/messages/events/`;
  if (topic.startsWith(telemetryPrefix)) {
    const properties = parsePropertyBag(topic.slice(telemetryPrefix.length));
    return properties
      ? { kind: 'telemetry', properties }
      : { kind: 'invalid', reason: 'malformed property bag' };
  }
  if (topic === `${root}/messages/events`)
    return { kind: 'telemetry', properties: parsePropertyBag('') ?? { system: {}, user: {} } };

  const methodResponse = METHOD_RESPONSE.exec(topic);
  if (methodResponse) {
    const requestId = readRequestId(methodResponse[2] ?? '');
    const status = Number(methodResponse[1]);
    if (status < INT32_MIN || status > INT32_MAX) {
      return { kind: 'invalid', reason: 'method response status is not a 32-bit integer' };
    }
    return requestId === undefined
      ? { kind: 'invalid', reason: 'method response without $rid' }
      : { kind: 'method-response', status, requestId };
  }
  const twinGet = TWIN_GET.exec(topic);
  const twinReported = TWIN_REPORTED.exec(topic);
  const twinQuery = twinGet?.[1] ?? twinReported?.[1];
  if (twinQuery !== undefined) {
    const requestId = readRequestId(twinQuery);
    if (requestId === undefined) return { kind: 'invalid', reason: 'twin request without $rid' };
    return twinGet ? { kind: 'twin-get', requestId } : { kind: 'twin-reported', requestId };
  }
  return { kind: 'invalid', reason: 'not a topic this device may publish to' };
}

/**
 * Topic filters a device (or, with `moduleId`, a module) may subscribe to: a module has no cloud-to-device topic but
 * its inputs (`devices/{d}/modules/{m}/inputs/#`, which the SDK subscribes to; the emulator routes nothing there).
 */
export function isAllowedDeviceSubscription(deviceId: string, filter: string, moduleId?: string): boolean {
  return (
    (moduleId === undefined
      ? filter === `devices/${deviceId}/messages/devicebound/#`
      : filter === `${identityTopicRoot(deviceId, moduleId)}/inputs/#`) ||
    filter === '$iothub/methods/POST/#' ||
    filter === '$iothub/twin/res/#' ||
    filter === DESIRED_PROPERTIES_SUBSCRIPTION
  );
}

/** Where a device listens for desired-property changes. */
export const DESIRED_PROPERTIES_SUBSCRIPTION = '$iothub/twin/PATCH/properties/desired/#';

/** A desired-property change for a device, with the desired properties' new version. */
export function desiredPropertiesTopic(version: number): string {
  return `$iothub/twin/PATCH/properties/desired/?$version=${version}`;
}

export const METHODS_SUBSCRIPTION = '$iothub/methods/POST/#';

export function methodRequestTopic(methodName: string, requestId: string): string {
  return `$iothub/methods/POST/${methodName}/?$rid=${requestId}`;
}

export function twinResponseTopic(status: number, requestId: string, version?: number): string {
  return `$iothub/twin/res/${status}/?$rid=${requestId}${version === undefined ? '' : `&$version=${version}`}`;
}

/**
 * Reads `key=value&...` pairs whose keys and values went through encodeURIComponent; `%24.mid` is `$.mid`.
 * Returns undefined when an escape is malformed.
 */
export function parsePropertyBag(bag: string): TelemetryProperties | undefined {
  // Without prototype: a device's property named `__proto__` is a property like any other.
  const system = Object.create(null) as Record<string, string>;
  const user = Object.create(null) as Record<string, string>;
  if (bag === '') return { system, user };
  for (const pair of bag.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      return undefined;
    }
    if (key === '') return undefined;
    const systemName = SYSTEM_PROPERTY_NAMES[key];
    if (systemName) system[systemName] = value;
    else if (key.startsWith('$.')) system[key.slice(2)] = value;
    else user[key] = value;
  }
  return { system, user };
}

function readRequestId(query: string): string | undefined {
  for (const pair of query.split('&')) {
    if (pair.startsWith('$rid=') && pair.length > 5) return pair.slice(5);
  }
  return undefined;
}

/** What a cloud-to-device topic carries besides the body. */
export interface CloudToDeviceTopicFields {
  readonly messageId?: string | undefined;
  readonly to: string;
  readonly correlationId?: string | undefined;
  readonly userId?: string | undefined;
  readonly contentType?: string | undefined;
  readonly contentEncoding?: string | undefined;
  readonly expiryTimeMs?: number | undefined;
  readonly properties: Readonly<Record<string, string>>;
}

/**
 * `devices/{id}/messages/devicebound/{property bag}`: system properties first (`$.mid`, `$.to`, `$.cid`, `$.uid`,
 * `$.ct`, `$.ce`, `$.exp`), then the user properties, each key and value through encodeURIComponent, which is how
 * the device SDK reads them back.
 */
export function cloudToDeviceTopic(deviceId: string, fields: CloudToDeviceTopicFields): string {
  const pairs: [string, string | undefined][] = [
    ['$.mid', fields.messageId],
    ['$.to', fields.to],
    ['$.cid', fields.correlationId],
    ['$.uid', fields.userId],
    ['$.ct', fields.contentType],
    ['$.ce', fields.contentEncoding],
    ['$.exp', fields.expiryTimeMs === undefined ? undefined : new Date(fields.expiryTimeMs).toISOString()],
    ...Object.entries(fields.properties),
  ];
  const bag = pairs
    .filter((pair): pair is [string, string] => pair[1] !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  return `devices/${deviceId}/messages/devicebound/${bag}`;
}

export function cloudToDeviceSubscription(deviceId: string): string {
  return `devices/${deviceId}/messages/devicebound/#`;
}

/**
 * The identity an MQTT client id names: `<device>` or `<device>/<module>`; undefined for anything else (more
 * slashes, empty parts), which no identity could authenticate as.
 */
export function parseClientId(clientId: string): { deviceId: string; moduleId?: string } | undefined {
  const parts = clientId.split('/');
  if (parts.some((part) => part === '')) return undefined;
  if (parts.length === 1) return { deviceId: clientId };
  if (parts.length === 2) return { deviceId: parts[0] ?? '', moduleId: parts[1] ?? '' };
  return undefined;
}
