import { RequestTooLargeError } from '../../src/lib/error-mapping';
import { ValidationError } from '../../src/lib/errors';
import { HubError } from '../hub/errors';
import type { ErrorReply } from './api-types';

/** A request the dashboard refuses: the HTTP status, a stable code, and the field at fault when there is one. */
export class DashboardError extends Error {
  override readonly name = 'DashboardError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
  ) {
    super(message);
  }
}

export const dashboardErrors = {
  invalid: (target: string, message: string, code = 'InvalidValue') =>
    new DashboardError(400, code, message, target),
  unknownField: (target: string, accepted: readonly string[]) =>
    new DashboardError(
      400,
      'UnknownField',
      `Unknown field ${JSON.stringify(target.slice(0, 100))}; accepted: ${accepted.join(', ') || 'none'}.`,
      target,
    ),
  notFound: () => new DashboardError(404, 'NotFound', 'No such page or API route.'),
  methodNotAllowed: (allowed: readonly string[]) =>
    new DashboardError(405, 'MethodNotAllowed', `Use ${allowed.join(' or ')}.`),
  unsupportedMediaType: () =>
    new DashboardError(415, 'UnsupportedMediaType', 'Send the request body as application/json.'),
  tooLarge: (limit: number) =>
    new DashboardError(413, 'RequestTooLarge', `The request body is over ${limit} bytes.`, 'body'),
};

/**
 * The status and body of a failed request. The hub's own errors keep their status and name (what the service API
 * would answer), the shared request rules keep their code and field; anything else is a 500 whose detail stays in
 * the emulator's log.
 */
export function errorReplyOf(error: unknown): { status: number; body: ErrorReply } | undefined {
  if (error instanceof DashboardError) {
    return reply(error.status, error.code, error.message, error.target);
  }
  if (error instanceof HubError) return reply(error.httpStatus, error.codeName, error.message);
  if (error instanceof ValidationError) {
    return reply(error instanceof RequestTooLargeError ? 413 : 400, error.code, error.message, error.field);
  }
  return undefined;
}

export function internalErrorReply(): { status: number; body: ErrorReply } {
  return reply(500, 'InternalError', 'The dashboard failed to answer; the emulator logged why.');
}

function reply(status: number, code: string, message: string, target?: string) {
  return {
    status,
    body: { error: { code, message, ...(target === undefined ? {} : { target }) } },
  };
}
