import { hubErrors } from '../../../hub/errors';
import type { IotHub } from '../../../hub/hub';
import { ifMatchOf } from '../request';
import type { HandlerContext, Reply, Route } from '../route-table';

function moduleReply(hub: IotHub, deviceId: string, moduleId: string): Reply {
  const description = hub.modules.describe(hub.modules.get(deviceId, moduleId));
  return { status: 200, body: description, headers: { etag: description.etag } };
}

/** `PUT /devices/{d}/modules/{m}`: creates a module, or updates it with If-Match; 404001 for an unknown device. */
async function putModule({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid('The request body must be a module JSON object.');
  }
  const deviceId = params.deviceId ?? '';
  const moduleId = params.moduleId ?? '';
  hub.registry.get(deviceId);
  hub.modules.put(deviceId, moduleId, body, ifMatchOf(request));
  await hub.saveRegistry();
  return moduleReply(hub, deviceId, moduleId);
}

async function deleteModule({ hub, params, request }: HandlerContext): Promise<Reply> {
  const deviceId = params.deviceId ?? '';
  hub.registry.get(deviceId);
  hub.modules.delete(deviceId, params.moduleId ?? '', ifMatchOf(request));
  await hub.saveRegistry();
  return { status: 204 };
}

function getModule({ hub, params }: HandlerContext): Promise<Reply> {
  const deviceId = params.deviceId ?? '';
  hub.registry.get(deviceId);
  return Promise.resolve(moduleReply(hub, deviceId, params.moduleId ?? ''));
}

function listModules({ hub, params }: HandlerContext): Promise<Reply> {
  const deviceId = params.deviceId ?? '';
  hub.registry.get(deviceId);
  const body = hub.modules.onDevice(deviceId).map((record) => hub.modules.describe(record));
  return Promise.resolve({ status: 200, body });
}

/** Module identities on the registry API, with the device routes' rights and error shape. */
export const moduleRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: 'devices/{deviceId}/modules',
    right: 'RegistryRead',
    shape: 'error-code-prefix',
    handle: listModules,
  },
  {
    method: 'GET',
    path: 'devices/{deviceId}/modules/{moduleId}',
    right: 'RegistryRead',
    shape: 'error-code-prefix',
    handle: getModule,
  },
  {
    method: 'PUT',
    path: 'devices/{deviceId}/modules/{moduleId}',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: putModule,
  },
  {
    method: 'DELETE',
    path: 'devices/{deviceId}/modules/{moduleId}',
    right: 'RegistryWrite',
    shape: 'error-code-prefix',
    handle: deleteModule,
  },
];
