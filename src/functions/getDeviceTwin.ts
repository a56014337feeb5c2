import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { Registry } from 'azure-iothub';
import { readDeviceTwin } from '../lib/device-twins';
import { errorResponse } from '../lib/http-replies';
import { getTwinRegistry, hubHostName } from '../lib/twin-registry';
import { mapTwinError } from '../lib/twin-errors';
import { parseTwinDeviceId } from '../lib/twin-request';

/**
 * GET /api/devices/{deviceId}/twin: the device's twin as IoT Hub holds it (tags, desired and reported properties,
 * versions, connection state), with its etag in the ETag header for a later conditional update.
 */
export function createGetDeviceTwinHandler(getRegistry: () => Registry = getTwinRegistry) {
  return async function getDeviceTwin(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    try {
      const deviceId = parseTwinDeviceId(request.params);
      const twin = await readDeviceTwin(getRegistry(), deviceId);
      context.log(`Twin of ${deviceId}: version ${twin.version ?? '?'}`);
      return { status: 200, jsonBody: twin, headers: { ETag: `"${twin.etag}"` } };
    } catch (error) {
      const reply = mapTwinError(error, hubHostName());
      const log = reply.status >= 500 ? context.error.bind(context) : context.warn.bind(context);
      log(
        `Twin of ${request.params.deviceId ?? '?'} failed: ${reply.status} ${reply.code}: ${reply.message}`,
      );
      return errorResponse(reply);
    }
  };
}

export const getDeviceTwin = createGetDeviceTwinHandler();

app.http('getDeviceTwin', {
  methods: ['GET'],
  authLevel: 'function',
  route: 'devices/{deviceId}/twin',
  handler: getDeviceTwin,
});
