import { hubErrors } from '../../../hub/errors';
import type { HandlerContext, Reply, Route } from '../route-table';

/** `DELETE /devices/{id}/commands`: deletes the device's pending cloud-to-device messages (Purged feedback). */
function purgeQueue({ hub, params }: HandlerContext): Promise<Reply> {
  const deviceId = params.deviceId ?? '';
  if (!hub.registry.find(deviceId)) return Promise.reject(hubErrors.deviceNotFound(deviceId));
  const totalMessagesPurged = hub.cloudToDevice.purge(deviceId);
  return Promise.resolve({ status: 200, body: { deviceId, totalMessagesPurged } });
}

export const cloudToDeviceRoutes: readonly Route[] = [
  {
    method: 'DELETE',
    path: 'devices/{deviceId}/commands',
    right: 'ServiceConnect',
    shape: 'error-code-prefix',
    handle: purgeQueue,
  },
];
