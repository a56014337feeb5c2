import { ValidationError } from './errors';
import {
  CONNECT_TIMEOUT,
  DEVICE_ID_RULE,
  isValidDeviceId,
  isValidMethodName,
  METHOD_NAME_RULE,
  methodPayloadProblem,
  readTimeoutSeconds,
  RESPONSE_TIMEOUT,
  timeoutRule,
  type SecondsRange,
} from './iothub-rules';

/** A validated direct-method call, ready for the IoT Hub service client. */
export interface MethodCall {
  readonly deviceId: string;
  readonly methodName: string;
  readonly payload: unknown;
  readonly responseTimeoutInSeconds: number;
  readonly connectTimeoutInSeconds: number;
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
  const methodName = params.methodName ?? '';
  if (!isValidMethodName(methodName)) {
    throw new ValidationError(
      'InvalidMethodName',
      'methodName',
      `The method name ${JSON.stringify(methodName)} is invalid: use ${METHOD_NAME_RULE}.`,
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
  const payload = body.payload ?? null;
  const problem = methodPayloadProblem(payload);
  if (problem !== undefined) {
    const code = problem.kind === 'too-deep' ? 'PayloadTooDeep' : 'PayloadTooLarge';
    throw new ValidationError(code, 'payload', problem.message);
  }
  return {
    deviceId,
    methodName,
    payload,
    responseTimeoutInSeconds: readSeconds(
      'responseTimeoutInSeconds',
      body.responseTimeoutInSeconds,
      RESPONSE_TIMEOUT,
    ),
    connectTimeoutInSeconds: readSeconds(
      'connectTimeoutInSeconds',
      body.connectTimeoutInSeconds,
      CONNECT_TIMEOUT,
    ),
  };
}

function parseBody(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(
      'InvalidJson',
      'body',
      `The request body is not valid JSON: ${(error as Error).message}.`,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError(
      'InvalidBody',
      'body',
      'The request body must be a JSON object such as {"payload": 5}.',
    );
  }
  return value as Record<string, unknown>;
}

function readSeconds(field: string, value: unknown, range: SecondsRange): number {
  const seconds = readTimeoutSeconds(value, range);
  if (seconds === undefined) throw new ValidationError('InvalidTimeout', field, timeoutRule(field, range));
  return seconds;
}
