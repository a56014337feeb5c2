import { checkMethodInvocation } from '../../../../src/lib/method-invocation';
import { hubErrors } from '../../../hub/errors';
import type { HandlerContext, Reply, Route } from '../route-table';

/** The body of a method call, checked by IoT Hub's rules (the function applies the same ones). */
function readInvocation(body: unknown) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid(
      'The request body must be a JSON object with methodName, payload and timeouts.',
    );
  }
  const check = checkMethodInvocation(body);
  if (!check.ok) throw hubErrors.argumentInvalid(check.problem.message);
  return check.invocation;
}

/** `POST /twins/{deviceId}/methods`: invokes a direct method and answers with the device's status and payload. */
async function invokeDeviceMethod({ hub, params, body }: HandlerContext): Promise<Reply> {
  const invocation = readInvocation(body);
  const deviceId = params.deviceId ?? '';
  if (hub.registry.find(deviceId)?.status !== 'enabled') throw hubErrors.deviceNotFound(deviceId);
  const result = await hub.methods.invoke(deviceId, invocation);
  return { status: 200, body: { status: result.status, payload: result.payload } };
}

/**
 * `POST /twins/{deviceId}/modules/{moduleId}/methods`: the same call on a module's connection. The device is
 * checked first (404001, also when disabled), then the module (404010).
 */
async function invokeModuleMethod({ hub, params, body }: HandlerContext): Promise<Reply> {
  const invocation = readInvocation(body);
  const deviceId = params.deviceId ?? '';
  const moduleId = params.moduleId ?? '';
  if (hub.registry.find(deviceId)?.status !== 'enabled') throw hubErrors.deviceNotFound(deviceId);
  hub.modules.get(deviceId, moduleId);
  const result = await hub.methods.invokeOnModule(deviceId, moduleId, invocation);
  return { status: 200, body: { status: result.status, payload: result.payload } };
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
