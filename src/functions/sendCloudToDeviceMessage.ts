import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import type { Client } from 'azure-iothub';
import { parseCloudToDeviceRequest } from '../lib/c2d-request';
import { sendCloudToDeviceMessage as sendToHub } from '../lib/cloud-to-device';
import { mapError } from '../lib/error-mapping';
import { errorResponse } from '../lib/http-replies';
import { getIotHubClient } from '../lib/iothub-client';
import { escapeForLog } from '../lib/log-text';
import { readIotHubSettings } from '../lib/settings';

/**
 * POST /api/devices/{deviceId}/messages: queues a cloud-to-device message for the device on IoT Hub and answers 202
 * with its message id (the id feedback records name). Delivery happens when the device is connected.
 */
export function createSendCloudToDeviceMessageHandler(getClient: () => Client = getIotHubClient) {
  return async function sendCloudToDeviceMessage(
    request: HttpRequest,
    context: InvocationContext,
  ): Promise<HttpResponseInit> {
    const started = performance.now();
    try {
      const message = parseCloudToDeviceRequest(request.params, await request.text());
      await sendToHub(getClient(), message);
      context.log(
        `Cloud-to-device message ${message.messageId} to ${message.deviceId}: queued (ack ${message.ack}, ${message.body.length} body bytes) in ${Math.round(performance.now() - started)} ms`,
      );
      return { status: 202, jsonBody: { messageId: message.messageId } };
    } catch (error) {
      const reply = mapError(error, hubHostName());
      const log = reply.status >= 500 ? context.error.bind(context) : context.warn.bind(context);
      // The route value is whatever the caller sent: escaped and cut for the log line.
      const deviceId = escapeForLog((request.params.deviceId ?? '?').slice(0, 128));
      log(`Cloud-to-device message to ${deviceId} failed: ${reply.status} ${reply.code}: ${reply.message}`);
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

export const sendCloudToDeviceMessage = createSendCloudToDeviceMessageHandler();

app.http('sendCloudToDeviceMessage', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'devices/{deviceId}/messages',
  handler: sendCloudToDeviceMessage,
});
