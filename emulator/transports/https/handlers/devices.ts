import { runBulkRegistryOperation } from '../../../hub/bulk-registry';
import { hubErrors } from '../../../hub/errors';
import type { IotHub } from '../../../hub/hub';
import { ifMatchOf } from '../request';
import type { HandlerContext, Reply, Route } from '../route-table';

function deviceReply(hub: IotHub, deviceId: string): Reply {
  const description = hub.registry.describe(hub.registry.get(deviceId));
  return { status: 200, body: description, headers: { etag: description.etag } };
}

/** `PUT /devices/{id}`: creates a device, or updates it with If-Match; IoT Hub answers 200 to both. */
async function putDevice({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid('The request body must be a device JSON object.');
  }
  const deviceId = params.deviceId ?? '';
  hub.registry.put(deviceId, body, ifMatchOf(request));
  await hub.saveRegistry();
  return deviceReply(hub, deviceId);
}

async function deleteDevice({ hub, params, request }: HandlerContext): Promise<Reply> {
  hub.registry.delete(params.deviceId ?? '', ifMatchOf(request));
  await hub.saveRegistry();
  return { status: 204 };
}

/**
 * `POST /devices`: up to 100 creates, updates and deletes, each on its own; 200 with IoT Hub's
 * BulkRegistryOperationResult (`isSuccessful`, per-device `errors`), once every change is on disk.
 */
async function bulkDevices({ hub, body }: HandlerContext): Promise<Reply> {
  const result = runBulkRegistryOperation(hub.registry, body);
  await hub.saveRegistry();
  return { status: 200, body: result };
}

export const deviceRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: 'devices',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: bulkDevices,
  },
  {
    method: 'GET',
    path: 'devices',
    right: 'RegistryRead',
    shape: 'error-code-prefix',
    handle: ({ hub }) => Promise.resolve({ status: 200, body: hub.registry.list() }),
  },
  {
    method: 'GET',
    path: 'devices/{deviceId}',
    right: 'RegistryRead',
    shape: 'error-code-prefix',
    handle: ({ hub, params }) => Promise.resolve(deviceReply(hub, params.deviceId ?? '')),
  },
  {
    method: 'PUT',
    path: 'devices/{deviceId}',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: putDevice,
  },
  {
    method: 'DELETE',
    path: 'devices/{deviceId}',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: deleteDevice,
  },
];
