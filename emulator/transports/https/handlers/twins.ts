import { ifMatchOf } from '../request';
import type { HandlerContext, Reply, Route } from '../route-table';
import type { ServiceTwinJson } from '../../../hub/twins/twin-views';

/** A twin answer: the twin, with its etag (quoted) in the ETag header as well. */
function twinReply(twin: ServiceTwinJson): Reply {
  return { status: 200, body: twin, headers: { etag: `"${twin.etag}"` } };
}

/** `GET /twins/{id}`: the device's twin. */
function getTwin({ hub, params }: HandlerContext): Promise<Reply> {
  return Promise.resolve(twinReply(hub.twins.read(params.deviceId ?? '')));
}

/** `PATCH /twins/{id}`: merges tags and desired properties (null deletes), If-Match optional. */
async function patchTwin({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  return twinReply(await hub.twins.update(params.deviceId ?? '', body, ifMatchOf(request)));
}

/** `PUT /twins/{id}`: replaces the tags and desired properties the body holds, If-Match optional. */
async function putTwin({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  return twinReply(await hub.twins.replace(params.deviceId ?? '', body, ifMatchOf(request)));
}

/** `GET /twins/{id}/modules/{m}`: the module's twin. */
function getModuleTwin({ hub, params }: HandlerContext): Promise<Reply> {
  return Promise.resolve(twinReply(hub.moduleTwins.read(params.deviceId ?? '', params.moduleId ?? '')));
}

/** `PATCH /twins/{id}/modules/{m}`: merges tags and desired properties of the module's twin. */
async function patchModuleTwin({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  const { deviceId = '', moduleId = '' } = params;
  return twinReply(await hub.moduleTwins.update(deviceId, moduleId, body, ifMatchOf(request)));
}

/** `PUT /twins/{id}/modules/{m}`: replaces the tags and desired properties of the module's twin. */
async function putModuleTwin({ hub, params, body, request }: HandlerContext): Promise<Reply> {
  const { deviceId = '', moduleId = '' } = params;
  return twinReply(await hub.moduleTwins.replace(deviceId, moduleId, body, ifMatchOf(request)));
}

/**
 * Device (and module) twins on the service API. Reading takes ServiceConnect (the twin documentation: "Retrieve device twin by
 * ID" needs it) or RegistryRead; changing takes ServiceConnect. Errors in the registry's shape
 * (`ErrorCode:DeviceNotFound;...`), which azure-iothub turns into typed errors (DeviceNotFoundError,
 * InvalidEtagError, ArgumentError).
 */
export const twinRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: 'twins/{deviceId}',
    right: ['ServiceConnect', 'RegistryRead'],
    shape: 'error-code-prefix',
    handle: getTwin,
  },
  {
    method: 'PATCH',
    path: 'twins/{deviceId}',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: patchTwin,
  },
  {
    method: 'PUT',
    path: 'twins/{deviceId}',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: putTwin,
  },
  {
    method: 'GET',
    path: 'twins/{deviceId}/modules/{moduleId}',
    right: ['ServiceConnect', 'RegistryRead'],
    shape: 'error-code-prefix',
    handle: getModuleTwin,
  },
  {
    method: 'PATCH',
    path: 'twins/{deviceId}/modules/{moduleId}',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: patchModuleTwin,
  },
  {
    method: 'PUT',
    path: 'twins/{deviceId}/modules/{moduleId}',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: putModuleTwin,
  },
];
