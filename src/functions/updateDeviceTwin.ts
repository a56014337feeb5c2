import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { Registry } from 'azure-iothub';
import { updateDeviceTwin as updateTwin } from '../lib/device-twins';
import { errorResponse } from '../lib/http-replies';
import { getTwinRegistry, hubHostName } from '../lib/twin-registry';
import { mapTwinError } from '../lib/twin-errors';
import { parseTwinUpdate } from '../lib/twin-request';

/**
 * PATCH /api/devices/{deviceId}/twin: merges desired properties and tags into the device's twin (a null deletes),
 * only if it still has the etag in `If-Match` when one is given (412 otherwise). IoT Hub pushes the desired change
 * to the device if it is connected. Answers the updated twin.
 */
export function createUpdateDeviceTwinHandler(getRegistry: () => Registry = getTwinRegistry) {
  return async function updateDeviceTwin(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    try {
      const update = parseTwinUpdate(request.params, await request.text(), request.headers.get('if-match'));
      const twin = await updateTwin(getRegistry(), update);
      context.log(`Twin of ${update.deviceId} updated: version ${twin.version ?? '?'}`);
      return { status: 200, jsonBody: twin, headers: { ETag: `"${twin.etag}"` } };
    } catch (error) {
      const reply = mapTwinError(error, hubHostName());
      const log = reply.status >= 500 ? context.error.bind(context) : context.warn.bind(context);
      log(
        `Twin update of ${request.params.deviceId ?? '?'} failed: ${reply.status} ${reply.code}: ${reply.message}`,
      );
      return errorResponse(reply);
    }
  };
}

export const updateDeviceTwin = createUpdateDeviceTwinHandler();

app.http('updateDeviceTwin', {
  methods: ['PATCH'],
  authLevel: 'function',
  route: 'devices/{deviceId}/twin',
  handler: updateDeviceTwin,
});
