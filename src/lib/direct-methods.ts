import type { Client } from 'azure-iothub';
import { HubCallTimeoutError } from './error-mapping';
import type { MethodCall } from './method-request';

/** The device's answer, as IoT Hub returns it. */
export interface MethodResponse {
  readonly status: number;
  readonly payload: unknown;
}

/** Allowance for the network and the hub on top of the call's own timeouts. */
const HUB_GRACE_MS = 5_000;

/**
 * Invokes a direct method. The hub answers within connect + response timeout; should it not (a hung connection),
 * the call fails after that plus a short grace instead of waiting forever, which the SDK would do.
 */
export async function invokeDirectMethod(client: Client, call: MethodCall): Promise<MethodResponse> {
  const limitMs = (call.responseTimeoutInSeconds + call.connectTimeoutInSeconds) * 1000 + HUB_GRACE_MS;
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new HubCallTimeoutError(`IoT Hub did not answer within ${Math.round(limitMs / 1000)} s.`));
    }, limitMs);
  });
  try {
    // The SDK types the device's answer as any; it is read defensively below.
    const invocation: Promise<{ result: unknown }> = client.invokeDeviceMethod(call.deviceId, {
      methodName: call.methodName,
      payload: call.payload,
      responseTimeoutInSeconds: call.responseTimeoutInSeconds,
      connectTimeoutInSeconds: call.connectTimeoutInSeconds,
    });
    const { result } = await Promise.race([invocation, guard]);
    const answer = result as { status?: unknown; payload?: unknown } | null | undefined;
    return {
      status: typeof answer?.status === 'number' ? answer.status : 0,
      payload: answer?.payload ?? null,
    };
  } finally {
    clearTimeout(timer);
  }
}
