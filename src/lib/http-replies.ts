import type { HttpResponseInit } from '@azure/functions';
import type { ErrorReply } from './error-mapping';

/** `{"error": {"code", "message", ...}}`, the Azure REST error shape, with Retry-After when throttled. */
export function errorResponse(reply: ErrorReply): HttpResponseInit {
  const { status, retryAfterSeconds, ...error } = reply;
  return {
    status,
    jsonBody: { error },
    headers: retryAfterSeconds === undefined ? {} : { 'Retry-After': String(retryAfterSeconds) },
  };
}
