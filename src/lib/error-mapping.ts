import { SettingsError, ValidationError } from './errors';
import { redactSecrets } from './redact';

/** What the function answers when a call fails: status, a stable code, a helpful message. */
export interface ErrorReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly target?: string;
  /** IoT Hub's tracking id, for support requests. */
  readonly trackingId?: string;
  readonly retryAfterSeconds?: number;
}

/** Thrown when the hub does not answer within the call's own timeouts (the SDK would wait forever). */
export class HubCallTimeoutError extends Error {
  override readonly name = 'HubCallTimeoutError';
}

/** A request refused because what it describes is over one of IoT Hub's size limits: 413 rather than 400. */
export class RequestTooLargeError extends ValidationError {}

interface SdkHttpError {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly response?: {
    readonly statusCode?: number;
    readonly headers?: Record<string, string | string[] | undefined>;
  };
  readonly responseBody?: unknown;
}

interface HubErrorDetails {
  readonly errorCode?: number;
  readonly codeName?: string;
  readonly message?: string;
  readonly trackingId?: string;
}

const DEFAULT_RETRY_AFTER_SECONDS = 5;

/**
 * Turns anything a direct-method call can throw into the function's answer. IoT Hub writes errors either as
 * `{"Message":"{\"errorCode\":404103,...}"}` (direct methods) or `{"Message":"ErrorCode:DeviceNotFound;..."}`
 * (older routes); both are read. Messages never carry keys or tokens.
 */
export function mapError(error: unknown, hostName: string): ErrorReply {
  if (error instanceof RequestTooLargeError) {
    return { status: 413, code: error.code, message: error.message, target: error.field };
  }
  if (error instanceof ValidationError) {
    return { status: 400, code: error.code, message: error.message, target: error.field };
  }
  if (error instanceof SettingsError) {
    return { status: 500, code: 'ConfigurationError', message: error.message, target: error.setting };
  }
  if (error instanceof HubCallTimeoutError) {
    return { status: 504, code: 'GatewayTimeout', message: error.message };
  }
  const amqpReply = mapAmqpError(error, hostName);
  if (amqpReply) return amqpReply;
  const sdkError = (typeof error === 'object' && error !== null ? error : {}) as SdkHttpError;
  const status = sdkError.response?.statusCode;
  const details = parseHubErrorBody(sdkError.responseBody);
  const trackingId = details.trackingId;
  const hubMessage = redactSecrets(details.message ?? sdkError.message ?? 'no details');
  const withTracking = (reply: ErrorReply): ErrorReply => (trackingId ? { ...reply, trackingId } : reply);

  if (
    details.errorCode === 404001 ||
    details.codeName === 'DeviceNotFound' ||
    sdkError.name === 'DeviceNotFoundError'
  ) {
    return withTracking({
      status: 404,
      code: 'DeviceNotFound',
      message: `IoT Hub does not know this device, or it is disabled: ${hubMessage}`,
    });
  }
  if (details.errorCode === 404103 || details.codeName === 'DeviceNotOnline') {
    return withTracking({
      status: 404,
      code: 'DeviceNotOnline',
      message: `The device is not connected (or not subscribed to direct methods): ${hubMessage} Raise connectTimeoutInSeconds to wait for it.`,
    });
  }
  if (status === 504 || details.errorCode === 504101 || sdkError.name === 'GatewayTimeoutError') {
    return withTracking({
      status: 504,
      code: 'GatewayTimeout',
      message: `The device did not answer in time: ${hubMessage}`,
    });
  }
  if (status === 502 || sdkError.name === 'BadDeviceResponseError') {
    return withTracking({
      status: 502,
      code: 'BadDeviceResponse',
      message: `The device answered, but IoT Hub could not pass the answer on (a response over 128 KB, say): ${hubMessage}`,
    });
  }
  if (status === 429 || sdkError.name === 'ThrottlingError') {
    return withTracking({
      status: 429,
      code: 'Throttled',
      message: `IoT Hub is throttling direct methods for this hub: ${hubMessage}`,
      retryAfterSeconds: retryAfter(sdkError.response?.headers) ?? DEFAULT_RETRY_AFTER_SECONDS,
    });
  }
  if (status === 401 || sdkError.name === 'UnauthorizedError' || isCredentialError(sdkError)) {
    return withTracking({
      status: 502,
      code: 'IotHubAuthenticationFailed',
      message:
        `IoT Hub ${hostName} refused the function's credentials. Check the key in IOTHUB_SERVICE_CONNECTION_STRING, ` +
        `or that the managed identity can get a token for IoT Hub. (${hubMessage})`,
    });
  }
  if (status === 403) {
    return withTracking({
      status: 502,
      code: 'IotHubAccessDenied',
      message:
        `IoT Hub ${hostName} denied the call: the shared access policy needs ServiceConnect, or the managed identity ` +
        `needs the "IoT Hub Data Contributor" role. (${hubMessage})`,
    });
  }
  if (status === 400) {
    return withTracking({
      status: 400,
      code: 'InvalidRequest',
      message: `IoT Hub refused the request: ${hubMessage}`,
    });
  }
  if (status === undefined && isNetworkError(sdkError)) {
    return {
      status: 502,
      code: 'IotHubUnreachable',
      message: `Cannot reach IoT Hub ${hostName}: ${redactSecrets(sdkError.message ?? String(sdkError.code))}.`,
    };
  }
  return withTracking({
    status: 502,
    code: 'IotHubError',
    message: `IoT Hub ${hostName} answered ${status ?? 'without a status'}: ${hubMessage}`,
  });
}

/**
 * One level of what azure-iothub's AMQP transport reports: its own error (`name`), wrapping in `amqpError` what it
 * translated, down to the AMQP error the hub sent (`condition`, `description`, `info`) or a socket error (`code`).
 */
interface AmqpErrorLevel {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly condition?: unknown;
  readonly description?: unknown;
  readonly info?: unknown;
  readonly amqpError?: unknown;
}

/** The SDK's error names and the AMQP conditions IoT Hub sends for them (azure-iothub amqp_service_errors). */
const AMQP_FAILURES = {
  queueFull: ['DeviceMaximumQueueDepthExceededError', 'amqp:resource-limit-exceeded'],
  deviceNotFound: ['DeviceNotFoundError', 'amqp:not-found'],
  tooLarge: ['MessageTooLargeError', 'amqp:link:message-size-exceeded'],
  throttled: ['ThrottlingError', 'com.microsoft:device-container-throttled'],
  quotaExceeded: ['IotHubQuotaExceededError', 'com.microsoft:quota-exceeded'],
  unauthorized: ['UnauthorizedError', 'amqp:unauthorized-access'],
  badArgument: ['ArgumentError', 'com.microsoft:argument-error'],
  badArgumentRange: ['ArgumentOutOfRangeError', 'com.microsoft:argument-out-of-range'],
  timeout: ['TimeoutError', 'com.microsoft:timeout'],
} as const;

/**
 * Maps a failure of azure-iothub's AMQP transport (cloud-to-device sends), or returns undefined for anything else.
 * The transport wraps errors in one another (`amqpError`), sometimes losing the specific name on the way (a token
 * refused during connection comes back as a plain Error), so every level is read: names, AMQP conditions, socket
 * error codes, and the hub's description and tracking id.
 */
function mapAmqpError(error: unknown, hostName: string): ErrorReply | undefined {
  const levels: AmqpErrorLevel[] = [];
  // The chain can loop back on itself (a NotConnectedError wrapping itself): stop at the first level seen twice.
  for (let level = error; typeof level === 'object' && level !== null && levels.length < 8;) {
    const current: AmqpErrorLevel = level;
    if (levels.includes(current)) break;
    levels.push(current);
    level = current.amqpError;
  }
  const top = levels[0];
  if (!top || (top.amqpError === undefined && typeof top.condition !== 'string')) return undefined;
  const strings = (key: keyof AmqpErrorLevel) =>
    levels.map((level) => level[key]).filter((value): value is string => typeof value === 'string');
  const names = strings('name');
  const conditions = strings('condition');
  const is = ([name, condition]: readonly [string, string]) =>
    names.includes(name) || conditions.includes(condition);
  const described = strings('description')[0] ?? strings('message').at(-1) ?? 'no details';
  const hubMessage = redactSecrets(described);
  const trackingId = levels
    .map((level) => (level.info as Record<string, unknown> | undefined)?.['com.microsoft:tracking-id'])
    .find((value): value is string => typeof value === 'string');
  const reply = (status: number, code: string, message: string, extra: Partial<ErrorReply> = {}) => ({
    status,
    code,
    message,
    ...extra,
    ...(trackingId ? { trackingId } : {}),
  });

  if (is(AMQP_FAILURES.queueFull)) {
    return reply(
      403,
      'DeviceMaximumQueueDepthExceeded',
      `The device's cloud-to-device queue is full (IoT Hub keeps at most 50 messages a device); the device must complete or reject some first: ${hubMessage}`,
    );
  }
  if (is(AMQP_FAILURES.deviceNotFound)) {
    return reply(404, 'DeviceNotFound', `IoT Hub does not know this device: ${hubMessage}`);
  }
  if (is(AMQP_FAILURES.tooLarge)) {
    return reply(413, 'MessageTooLarge', `IoT Hub refused the message as too large: ${hubMessage}`);
  }
  if (is(AMQP_FAILURES.throttled)) {
    return reply(
      429,
      'Throttled',
      `IoT Hub is throttling cloud-to-device messages for this hub: ${hubMessage}`,
      { retryAfterSeconds: DEFAULT_RETRY_AFTER_SECONDS },
    );
  }
  if (is(AMQP_FAILURES.quotaExceeded)) {
    return reply(403, 'IotHubQuotaExceeded', `IoT Hub's daily message quota is used up: ${hubMessage}`);
  }
  if (is(AMQP_FAILURES.unauthorized)) {
    return reply(
      502,
      'IotHubAuthenticationFailed',
      `IoT Hub ${hostName} refused the function's credentials or rights: check the key in IOTHUB_SERVICE_CONNECTION_STRING ` +
        `and that its policy has ServiceConnect, or that the managed identity has the "IoT Hub Data Contributor" role. (${hubMessage})`,
    );
  }
  if (is(AMQP_FAILURES.badArgument) || is(AMQP_FAILURES.badArgumentRange)) {
    return reply(400, 'InvalidRequest', `IoT Hub refused the message: ${hubMessage}`);
  }
  if (is(AMQP_FAILURES.timeout)) {
    return reply(504, 'GatewayTimeout', `IoT Hub did not answer in time: ${hubMessage}`);
  }
  if (levels.some((level) => isNetworkError(level as SdkHttpError))) {
    const cause = strings('code')[0] ?? hubMessage;
    return reply(
      502,
      'IotHubUnreachable',
      `Cannot reach IoT Hub ${hostName} over AMQP: ${redactSecrets(cause)}.`,
    );
  }
  // The AMQP stack reports a connection that closed before or while opening (nothing listening, a TLS failure, the
  // hub closing it) as NotConnectedError, without the socket's own error.
  if (names.includes('NotConnectedError')) {
    return reply(
      502,
      'IotHubUnreachable',
      `Cannot reach IoT Hub ${hostName} over AMQP: the connection closed (nothing listening, a TLS failure, or the hub closed it). (${hubMessage})`,
    );
  }
  return reply(502, 'IotHubError', `IoT Hub ${hostName} failed the call: ${hubMessage}`);
}

/** Reads either IoT Hub error body shape; returns what it finds. */
export function parseHubErrorBody(body: unknown): HubErrorDetails {
  if (typeof body !== 'string' || body === '') return {};
  let outer: unknown;
  try {
    outer = JSON.parse(body);
  } catch {
    return {};
  }
  const message = (outer as { Message?: unknown } | null)?.Message;
  if (typeof message !== 'string') return {};
  if (message.startsWith('{')) {
    try {
      const inner = JSON.parse(message) as { errorCode?: unknown; trackingId?: unknown; message?: unknown };
      return {
        ...(typeof inner.errorCode === 'number' ? { errorCode: inner.errorCode } : {}),
        ...(typeof inner.trackingId === 'string' ? { trackingId: inner.trackingId } : {}),
        ...(typeof inner.message === 'string' ? { message: inner.message } : {}),
      };
    } catch {
      return { message };
    }
  }
  const prefixed = /^ErrorCode:([A-Za-z]+);(.*)$/s.exec(message);
  const exception = (outer as { ExceptionMessage?: unknown }).ExceptionMessage;
  const tracking = typeof exception === 'string' ? /Tracking ID:([^\s]+)/.exec(exception)?.[1] : undefined;
  return prefixed
    ? { codeName: prefixed[1], message: prefixed[2], ...(tracking ? { trackingId: tracking } : {}) }
    : { message };
}

function retryAfter(headers: Record<string, string | string[] | undefined> | undefined): number | undefined {
  const value = headers?.['retry-after'];
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  return Number(text);
}

function isNetworkError(error: SdkHttpError): boolean {
  const code = error.code ?? '';
  return (
    /^(E[A-Z_]+|ERR_TLS_[A-Z_]+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_[A-Z_]+)$/.test(
      code,
    ) || /socket hang up/i.test(error.message ?? '')
  );
}

function isCredentialError(error: SdkHttpError): boolean {
  return (
    error.name === 'CredentialUnavailableError' ||
    error.name === 'AuthenticationError' ||
    error.name === 'AggregateAuthenticationError'
  );
}
