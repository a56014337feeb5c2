import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { Client } from 'azure-iothub';
import { invokeDirectMethod } from '../lib/direct-methods';
import { mapError } from '../lib/error-mapping';
import { errorResponse } from '../lib/http-replies';
import { getIotHubClient } from '../lib/iothub-client';
import { parseMethodCall } from '../lib/method-request';
import { readIotHubSettings } from '../lib/settings';

/**
 * POST /api/devices/{deviceId}/methods/{methodName}: invokes a direct method on the device through IoT Hub and
 * answers with the device's `{status, payload}`.
 */
export function createInvokeDeviceMethodHandler(getClient: () => Client = getIotHubClient) {
  return async function invokeDeviceMethod(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const started = performance.now();
    try {
      const call = parseMethodCall(request.params, await request.text());
      const response = await invokeDirectMethod(getClient(), call);
      context.log(
        `Direct method ${call.methodName} on ${call.deviceId}: device status ${response.status} in ${Math.round(performance.now() - started)} ms`,
      );
      return { status: 200, jsonBody: response };
    } catch (error) {
      const reply = mapError(error, hubHostName());
      const log = reply.status >= 500 ? context.error.bind(context) : context.warn.bind(context);
      log(
        `Direct method ${request.params.methodName ?? '?'} on ${request.params.deviceId ?? '?'} failed: ${reply.status} ${reply.code}: ${reply.message}`,
      );
      return errorResponse(reply);
    }
  };
}

let configuredHostName: string | undefined;

/** The hub named in error messages; settings are read once, not on every failed call. */
function hubHostName(): string {
  if (configuredHostName === undefined) {
    try {
      configuredHostName = readIotHubSettings().hostName;
    } catch {
      configuredHostName = '(not configured)';
    }
  }
  return configuredHostName;
}

export const invokeDeviceMethod = createInvokeDeviceMethodHandler();

app.http('invokeDeviceMethod', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'devices/{deviceId}/methods/{methodName}',
  handler: invokeDeviceMethod,
});
