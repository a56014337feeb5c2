import { checkMethodInvocation } from '../../../../src/lib/method-invocation';
import { hubErrors } from '../../../hub/errors';
import type { HandlerContext, Reply, Route } from '../route-table';

/** `POST /twins/{deviceId}/methods`: invokes a direct method and answers with the device's status and payload. */
async function invokeDeviceMethod({ hub, params, body }: HandlerContext): Promise<Reply> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid(
      'The request body must be a JSON object with methodName, payload and timeouts.',
    );
  }
  const check = checkMethodInvocation(body);
  if (!check.ok) throw hubErrors.argumentInvalid(check.problem.message);
  const deviceId = params.deviceId ?? '';
  if (hub.registry.find(deviceId)?.status !== 'enabled') throw hubErrors.deviceNotFound(deviceId);
  const result = await hub.methods.invoke(deviceId, check.invocation);
  return { status: 200, body: { status: result.status, payload: result.payload } };
}

/** `POST /twins/{deviceId}/modules/{moduleId}/methods`: no modules yet, so 404 after the device check. */
function invokeModuleMethod({ hub, params }: HandlerContext): Promise<Reply> {
  const deviceId = params.deviceId ?? '';
  hub.registry.get(deviceId); // 404001 first, as the hub checks the device before the module
  return Promise.reject(hubErrors.moduleNotFound(deviceId, params.moduleId ?? ''));
}

export const methodRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: 'twins/{deviceId}/methods',
    right: 'ServiceConnect',
    shape: 'json-in-message',
    handle: invokeDeviceMethod,
  },
  {
    method: 'POST',
    path: 'twins/{deviceId}/modules/{moduleId}/methods',
    right: 'ServiceConnect',
    shape: 'json-in-message',
    handle: invokeModuleMethod,
  },
];
