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
  if (error instanceof ValidationError) {
    return { status: 400, code: error.code, message: error.message, target: error.field };
  }
  if (error instanceof SettingsError) {
    return { status: 500, code: 'ConfigurationError', message: error.message, target: error.setting };
  }
  if (error instanceof HubCallTimeoutError) {
    return { status: 504, code: 'GatewayTimeout', message: error.message };
  }
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
