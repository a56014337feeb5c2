import type { IncomingMessage } from 'node:http';
import { hubErrors } from '../../hub/errors';
import { METHOD_PAYLOAD_MAX_BYTES } from '../../../src/lib/iothub-rules';

/** Room for the JSON envelope around a 128 KB method payload: the largest body the API takes. */
export const MAX_BODY_BYTES = METHOD_PAYLOAD_MAX_BYTES + 16 * 1024;

/** The request target as a URL; a target no URL parser accepts is the client's error (400), never ours. */
export function parseRequestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'https://emulator');
  } catch {
    throw hubErrors.argumentInvalid('The request target is not a valid URL path.');
  }
}

/** Decoded path segments; a malformed escape is a 400. */
export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((segment) => segment !== '')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        throw hubErrors.argumentInvalid(`Malformed URL segment ${JSON.stringify(segment.slice(0, 200))}.`);
      }
    });
}

/**
 * What a token must cover to act on a path: the path itself, with the twin routes (`/twins/{id}...`) counted as
 * the device's (`devices/{id}...`), so that a token scoped to a device reaches that device's twin and methods.
 */
export function resourceOf(segments: readonly string[]): readonly string[] {
  return segments[0] === 'twins' ? ['devices', ...segments.slice(1)] : segments;
}

export function ifMatchOf(request: IncomingMessage): string | undefined {
  const value = request.headers['if-match'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The body's bytes, read only up to `maxBytes` (413 beyond, before the rest is buffered). */
export async function readRawBody(request: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes)
    throw hubErrors.messageTooLarge(`The request body exceeds ${maxBytes} bytes.`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw hubErrors.messageTooLarge(`The request body exceeds ${maxBytes} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** The body as JSON (undefined when empty), read only up to MAX_BODY_BYTES. */
export async function readJsonBody(request: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const bytes = await readRawBody(request, maxBytes);
  if (bytes.length === 0) return undefined;
  try {
    // Iterative in V8: nesting alone cannot exhaust the stack here; handlers bound it where it matters.
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw hubErrors.formatError('The request body is not valid JSON.');
  }
}
