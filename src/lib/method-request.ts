import { ValidationError } from './errors';
import { DEVICE_ID_RULE, isValidDeviceId } from './iothub-rules';
import { checkMethodInvocation, type MethodInvocation } from './method-invocation';
import { parseJsonObjectBody } from './json-body';

/** A validated direct-method call, ready for the IoT Hub service client. */
export interface MethodCall extends MethodInvocation {
  readonly deviceId: string;
}

const BODY_FIELDS = new Set(['payload', 'responseTimeoutInSeconds', 'connectTimeoutInSeconds']);

/**
 * Validates the route values and the optional JSON body `{payload, responseTimeoutInSeconds,
 * connectTimeoutInSeconds}` against IoT Hub's rules, so that bad input is refused with a 400 naming the field
 * instead of costing a hub call. No body means payload null and the hub's default timeouts.
 */
export function parseMethodCall(
  params: Readonly<Record<string, string | undefined>>,
  bodyText: string,
): MethodCall {
  const deviceId = params.deviceId ?? '';
  if (!isValidDeviceId(deviceId)) {
    throw new ValidationError(
      'InvalidDeviceId',
      'deviceId',
      `The device id ${JSON.stringify(deviceId)} is invalid: use ${DEVICE_ID_RULE}.`,
    );
  }
  const body = parseBody(bodyText);
  for (const key of Object.keys(body)) {
    if (!BODY_FIELDS.has(key)) {
      throw new ValidationError(
        'UnknownField',
        key,
        `Unknown field ${JSON.stringify(key)}; the body accepts payload, responseTimeoutInSeconds and connectTimeoutInSeconds.`,
      );
    }
  }
  const check = checkMethodInvocation({ ...body, methodName: params.methodName ?? '' });
  if (!check.ok) throw new ValidationError(check.problem.code, check.problem.field, check.problem.message);
  return { deviceId, ...check.invocation };
}

function parseBody(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  return parseJsonObjectBody(text, '{"payload": 5}');
}
