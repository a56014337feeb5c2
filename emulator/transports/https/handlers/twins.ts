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

/**
 * Device twins on the service API. Reading takes ServiceConnect (the twin documentation: "Retrieve device twin by
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
];
