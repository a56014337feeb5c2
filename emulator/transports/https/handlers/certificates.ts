import { hubErrors } from '../../../hub/errors';
import { ifMatchOf } from '../request';
import type { HandlerContext, Reply, Route } from '../route-table';

/*
 * Emulator-only: CA certificates for `certificateAuthority` X.509 devices. IoT Hub registers (and verifies) them
 * through Azure Resource Manager (`.../IotHubs/{hub}/certificates/{name}`), not through the hub's own REST API;
 * the emulator takes the same body and answers in ARM's shapes on its service API, with RegistryWrite, so that a
 * local setup needs no ARM. A registered CA counts as verified.
 */

/** `PUT /certificates/{name}` with `{ "properties": { "certificate": "<PEM>" } }`: 201 created, 200 replaced. */
async function putCertificate({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  const properties =
    typeof body === 'object' && body !== null ? (body as { properties?: unknown }).properties : undefined;
  if (typeof properties !== 'object' || properties === null) {
    throw hubErrors.argumentInvalid('The body must be {"properties": {"certificate": "<PEM>"}}.');
  }
  const store = hub.registry.certificateAuthorities;
  const { description, created } = store.put(
    params.name ?? '',
    (properties as { certificate?: unknown }).certificate,
    ifMatchOf(request),
  );
  await store.persist();
  return { status: created ? 201 : 200, body: description, headers: { etag: description.etag } };
}

async function deleteCertificate({ hub, params }: HandlerContext): Promise<Reply> {
  const store = hub.registry.certificateAuthorities;
  store.delete(params.name ?? '');
  await store.persist();
  return { status: 204 };
}

export const certificateRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: 'certificates',
    right: 'RegistryRead',
    shape: 'error-code-prefix',
    handle: ({ hub }) =>
      Promise.resolve({ status: 200, body: { value: hub.registry.certificateAuthorities.list() } }),
  },
  {
    method: 'GET',
    path: 'certificates/{name}',
    right: 'RegistryRead',
    shape: 'error-code-prefix',
    handle: ({ hub, params }) =>
      Promise.resolve({ status: 200, body: hub.registry.certificateAuthorities.get(params.name ?? '') }),
  },
  {
    method: 'PUT',
    path: 'certificates/{name}',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: putCertificate,
  },
  {
    method: 'DELETE',
    path: 'certificates/{name}',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: deleteCertificate,
  },
];
