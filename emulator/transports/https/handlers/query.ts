import { hubErrors } from '../../../hub/errors';
import { readPageSize } from '../../../hub/query/page-size';
import type { HandlerContext, Reply, Route } from '../route-table';

/** A request header's single value (Node joins repeated ones; a client sending two gets them joined, and refused). */
export function headerOf(context: HandlerContext, name: string): string | undefined {
  const value = context.request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** The page as IoT Hub answers it: the items, `x-ms-continuation` only when more follow (the SDKs stop without it). */
export function pageReply(
  items: readonly unknown[],
  continuation: string | undefined,
  itemType: string,
): Reply {
  return {
    status: 200,
    body: items,
    headers: {
      'x-ms-item-type': itemType,
      ...(continuation === undefined ? {} : { 'x-ms-continuation': continuation }),
    },
  };
}

/** `POST /devices/query` with `{"query": "SELECT ..."}`, `x-ms-max-item-count` and `x-ms-continuation`. */
function query(context: HandlerContext): Promise<Reply> {
  const { body, hub } = context;
  const text = typeof body === 'object' && body !== null ? (body as { query?: unknown }).query : undefined;
  if (typeof text !== 'string') {
    throw hubErrors.badRequest('The request body must be {"query": "SELECT ... FROM devices ..."}.');
  }
  const pageSize = readPageSize(headerOf(context, 'x-ms-max-item-count'));
  const answer = hub.queries.run(text, pageSize, headerOf(context, 'x-ms-continuation'));
  return Promise.resolve(pageReply(answer.items, answer.continuation, answer.itemType));
}

/**
 * Queries read the registry and twins: RegistryRead, or ServiceConnect (which reads twins). Errors in the
 * registry's shape, which azure-iothub turns into ArgumentError for a 400.
 */
export const queryRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: 'devices/query',
    right: ['RegistryRead', 'ServiceConnect'],
    shape: 'error-code-prefix',
    handle: query,
  },
];
