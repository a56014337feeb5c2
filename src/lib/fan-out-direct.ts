import type { Client } from 'azure-iothub';
import { invokeDirectMethod } from './direct-methods';
import { mapError } from './error-mapping';
import { mapWithConcurrency } from './fan-out-pool';
import type { MethodInvocation } from './method-invocation';

/** One device's outcome: its answer, or why there is none (the codes of the single-device function). */
export type DeviceResult =
  | { readonly deviceId: string; readonly status: number; readonly payload: unknown }
  | {
      readonly deviceId: string;
      readonly error: { readonly code: string; readonly message: string; readonly trackingId?: string };
    };

export interface DirectFanOutResult {
  readonly deviceCount: number;
  /** Devices that answered (whatever status they answered with). */
  readonly answeredCount: number;
  /** Devices that did not answer: offline, unknown, timed out, throttled... */
  readonly failedCount: number;
  /** One per device, in the order the devices were given. */
  readonly results: readonly DeviceResult[];
}

/**
 * Invokes the method on every device, `concurrency` calls at a time. A device's failure is its result, not the
 * call's: the others still run, and each result carries the device it belongs to.
 */
export async function invokeOnDevices(
  client: Client,
  deviceIds: readonly string[],
  invocation: MethodInvocation,
  concurrency: number,
  hostName: string,
): Promise<DirectFanOutResult> {
  const results = await mapWithConcurrency(
    deviceIds,
    concurrency,
    async (deviceId): Promise<DeviceResult> => {
      try {
        const { status, payload } = await invokeDirectMethod(client, { deviceId, ...invocation });
        return { deviceId, status, payload };
      } catch (error) {
        const { code, message, trackingId } = mapError(error, hostName);
        return { deviceId, error: { code, message, ...(trackingId ? { trackingId } : {}) } };
      }
    },
  );
  const failedCount = results.filter((result) => 'error' in result).length;
  return { deviceCount: results.length, answeredCount: results.length - failedCount, failedCount, results };
}
