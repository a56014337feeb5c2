import type { IncomingMessage } from 'node:http';
import { dashboardErrors } from '../errors';

/**
 * The largest body read at all: a 64 KB cloud-to-device message written as JSON with every byte escaped, the
 * largest thing the dashboard takes (as the function's own C2D route allows).
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * The request's body as text: JSON only (a form on another site cannot send that without a CORS preflight), and
 * refused once it passes the limit instead of being buffered whole.
 */
export async function readBodyText(request: IncomingMessage, limit = MAX_BODY_BYTES): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? '0');
  const hasBody = declared > 0 || request.headers['transfer-encoding'] !== undefined;
  if (hasBody && !isJson(request.headers['content-type'])) throw dashboardErrors.unsupportedMediaType();
  if (declared > limit) throw dashboardErrors.tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw dashboardErrors.tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function isJson(contentType: string | undefined): boolean {
  return /^application\/json\s*(;|$)/i.test(contentType ?? '');
}

/**
 * A JSON object body whose every field is one of `accepted`; an empty body is an empty object. Like the REST API,
 * an unknown field is refused rather than ignored: a typo must not pass silently.
 */
export function parseJsonObject(text: string, accepted: readonly string[]): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw dashboardErrors.invalid(
      'body',
      `The request body is not valid JSON: ${(error as Error).message}.`,
      'InvalidJson',
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw dashboardErrors.invalid('body', 'The request body must be a JSON object.', 'InvalidBody');
  }
  for (const key of Object.keys(value)) {
    if (!accepted.includes(key)) throw dashboardErrors.unknownField(key, accepted);
  }
  return value as Record<string, unknown>;
}
