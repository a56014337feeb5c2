import { mapError, parseHubErrorBody, type ErrorReply } from './error-mapping';
import { redactSecrets } from './redact';
import { TWIN_LIMITS } from './twin-rules';

interface SdkHttpError {
  readonly name?: string;
  readonly response?: { readonly statusCode?: number };
  readonly responseBody?: unknown;
}

/**
 * Turns anything a twin call can throw into the function's answer: what only twins meet (a stale etag, a document
 * over IoT Hub's size limits) here, everything else as the method function maps it (mapError).
 */
export function mapTwinError(error: unknown, hostName: string): ErrorReply {
  const reply = mapError(error, hostName);
  const sdkError = (typeof error === 'object' && error !== null ? error : {}) as SdkHttpError;
  const status = sdkError.response?.statusCode;
  const withTracking = (twinReply: ErrorReply): ErrorReply =>
    reply.trackingId ? { ...twinReply, trackingId: reply.trackingId } : twinReply;
  if (status === 412 || sdkError.name === 'InvalidEtagError') {
    return withTracking({
      status: 412,
      code: 'PreconditionFailed',
      message:
        'The twin changed since the etag in If-Match was read: read the twin again (GET) and retry with its etag, ' +
        'or leave If-Match out to update whatever the twin holds.',
      target: 'If-Match',
    });
  }
  if (status === 413) {
    return withTracking({
      status: 413,
      code: 'TwinTooLarge',
      message:
        `The twin would exceed IoT Hub's limits (tags ${TWIN_LIMITS.tagsBytes / 1024} KB, desired properties ` +
        `${TWIN_LIMITS.propertiesBytes / 1024} KB, counted as the twin documentation says): ` +
        redactSecrets(parseHubErrorBody(sdkError.responseBody).message ?? 'no details'),
    });
  }
  return reply;
}
