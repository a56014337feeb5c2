import { HubError, hubErrors } from '../../../hub/errors';
import type { HandlerContext, Reply, Route } from '../route-table';

/**
 * File upload from devices (REST "Create File Upload Sas Uri", "Update File Upload Status") as IoT Hub answers it
 * when no storage account is associated with the hub, which is always the case for the emulator: the device
 * SDK's `uploadToBlob` and `getBlobSharedAccessSignature` then fail with the hub's error. Codes from the IoT Hub
 * error-code reference: 400014 DefaultStorageEndpointNotConfigured, 400015 InvalidFileUploadCorrelationId.
 */

function requireObject(body: unknown, what: string): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid(`The request body must be a JSON object (${what}).`);
  }
}

/** `POST /devices/{id}/files` with `{blobName}`: no storage account, so no SAS URI. */
function createSasUri({ body }: HandlerContext): Promise<Reply> {
  requireObject(body, '{"blobName": "..."}');
  return Promise.reject(
    new HubError(
      400,
      400014,
      'DefaultStorageEndpointNotConfigured',
      'File upload is not configured: the hub has no storage account. The emulator has none; upload to a ' +
        'storage account (or Azurite) of your own instead.',
    ),
  );
}

/**
 * `POST /devices/{id}/files/notifications` (REST, correlation id in the body) and `.../notifications/{id}` (the
 * Node SDK's `notifyBlobUploadStatus`): no upload was ever started, so no correlation id is known.
 */
function notifyUploadStatus({ body }: HandlerContext): Promise<Reply> {
  requireObject(body, '{"correlationId", "isSuccess", "statusCode", "statusDescription"}');
  return Promise.reject(
    new HubError(
      400,
      400015,
      'InvalidFileUploadCorrelationId',
      'No file upload is in progress with this correlation id: the hub has no storage account, so none was started.',
    ),
  );
}

const common = {
  method: 'POST',
  right: 'DeviceConnect',
  audience: 'device',
  shape: 'error-code-prefix',
  // A `{blobName}` or a status notification: a few KB at most.
  maxBodyBytes: 16 * 1024,
} as const;

export const deviceFileRoutes: readonly Route[] = [
  { ...common, path: 'devices/{deviceId}/files', handle: createSasUri },
  { ...common, path: 'devices/{deviceId}/files/notifications', handle: notifyUploadStatus },
  { ...common, path: 'devices/{deviceId}/files/notifications/{correlationId}', handle: notifyUploadStatus },
];
