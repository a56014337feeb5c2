import {
  CONNECT_TIMEOUT,
  isValidMethodName,
  METHOD_NAME_RULE,
  methodPayloadProblem,
  readTimeoutSeconds,
  RESPONSE_TIMEOUT,
  timeoutRule,
  type SecondsRange,
} from './iothub-rules';

/** A direct-method invocation as IoT Hub's REST API takes it (`POST /twins/{id}/methods`), validated. */
export interface MethodInvocation {
  readonly methodName: string;
  readonly payload: unknown;
  readonly responseTimeoutInSeconds: number;
  readonly connectTimeoutInSeconds: number;
}

/** What is wrong with an invocation: a stable code, the field, and a message saying what is accepted. */
export interface InvocationProblem {
  readonly code: 'InvalidMethodName' | 'PayloadTooDeep' | 'PayloadTooLarge' | 'InvalidTimeout';
  readonly field: 'methodName' | 'payload' | 'responseTimeoutInSeconds' | 'connectTimeoutInSeconds';
  readonly message: string;
}

export type InvocationCheck =
  | { readonly ok: true; readonly invocation: MethodInvocation }
  | { readonly ok: false; readonly problem: InvocationProblem };

/**
 * Checks an invocation's fields against IoT Hub's rules: a method name that fits an MQTT topic level, a payload of
 * at most 128 KB and 64 levels as JSON (absent means null), and whole-second timeouts in range (absent or null
 * means the default). One rule for both sides: the function refuses bad input before it costs a hub call, and the
 * emulator answers it as the hub does. Never throws, whatever the input.
 */
export function checkMethodInvocation(
  fields: Readonly<
    Partial<
      Record<'methodName' | 'payload' | 'responseTimeoutInSeconds' | 'connectTimeoutInSeconds', unknown>
    >
  >,
): InvocationCheck {
  const fail = (problem: InvocationProblem): InvocationCheck => ({ ok: false, problem });
  const { methodName } = fields;
  if (typeof methodName !== 'string' || !isValidMethodName(methodName)) {
    return fail({
      code: 'InvalidMethodName',
      field: 'methodName',
      message: `The method name ${JSON.stringify(typeof methodName === 'string' ? methodName.slice(0, 200) : (methodName ?? null))} is invalid: use ${METHOD_NAME_RULE}.`,
    });
  }
  const payload = fields.payload ?? null;
  const payloadProblem = methodPayloadProblem(payload);
  if (payloadProblem) {
    return fail({
      code: payloadProblem.kind === 'too-deep' ? 'PayloadTooDeep' : 'PayloadTooLarge',
      field: 'payload',
      message: payloadProblem.message,
    });
  }
  const timeout = (field: InvocationProblem['field'], value: unknown, range: SecondsRange) => {
    const seconds = readTimeoutSeconds(value, range);
    return seconds === undefined
      ? ({ code: 'InvalidTimeout', field, message: timeoutRule(field, range) } as const)
      : seconds;
  };
  const responseTimeoutInSeconds = timeout(
    'responseTimeoutInSeconds',
    fields.responseTimeoutInSeconds,
    RESPONSE_TIMEOUT,
  );
  if (typeof responseTimeoutInSeconds !== 'number') return fail(responseTimeoutInSeconds);
  const connectTimeoutInSeconds = timeout(
    'connectTimeoutInSeconds',
    fields.connectTimeoutInSeconds,
    CONNECT_TIMEOUT,
  );
  if (typeof connectTimeoutInSeconds !== 'number') return fail(connectTimeoutInSeconds);
  return { ok: true, invocation: { methodName, payload, responseTimeoutInSeconds, connectTimeoutInSeconds } };
}
