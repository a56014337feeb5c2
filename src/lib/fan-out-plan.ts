import { RequestTooLargeError } from './error-mapping';
import { deviceIdsCondition, MAX_CONDITION_LENGTH } from './fan-out-conditions';
import type { FanOutRequest } from './fan-out-request';
import type { FanOutSettings } from './fan-out-settings';
import type { ResolvedDevices } from './fan-out-targets';

/** How a fan-out runs: directly over known devices, or as an IoT Hub job over a condition. */
export type FanOutPlan =
  | { readonly kind: 'direct'; readonly deviceIds: readonly string[] }
  | { readonly kind: 'job'; readonly condition: string };

/**
 * Chooses direct or job. An id list is direct up to FANOUT_MAX_DIRECT_DEVICES; a condition is resolved first
 * (unless a job is asked for, which needs no resolution) and runs directly when it selects few enough devices.
 * Asking for direct over more than the limit is refused rather than quietly turned into a job.
 */
export async function planFanOut(
  request: FanOutRequest,
  settings: FanOutSettings,
  resolve: (condition: string, limit: number) => Promise<ResolvedDevices>,
): Promise<FanOutPlan> {
  const { target, mode } = request;
  const limit = settings.maxDirectDevices;
  if (target.kind === 'query') {
    if (mode === 'job') return { kind: 'job', condition: target.condition };
    const resolved = await resolve(target.condition, limit);
    if (!resolved.overLimit) return { kind: 'direct', deviceIds: resolved.deviceIds };
    if (mode === 'direct') throw tooManyForDirect(`The condition selects more than ${limit} devices`);
    return { kind: 'job', condition: target.condition };
  }
  const ids = target.deviceIds;
  if (mode === 'direct' || (mode === undefined && ids.length <= limit)) {
    if (ids.length > limit) throw tooManyForDirect(`deviceIds lists ${ids.length} devices`);
    return { kind: 'direct', deviceIds: ids };
  }
  const condition = deviceIdsCondition(ids);
  if (condition.length > MAX_CONDITION_LENGTH) {
    throw new RequestTooLargeError(
      'TooManyDevicesForJob',
      'deviceIds',
      `A job over these ${ids.length} devices needs a condition of ${condition.length} characters (deviceId IN [...]); ` +
        `IoT Hub accepts at most ${MAX_CONDITION_LENGTH}. Select the devices with a query condition (a tag, say) instead.`,
    );
  }
  return { kind: 'job', condition };
}

function tooManyForDirect(what: string): RequestTooLargeError {
  return new RequestTooLargeError(
    'TooManyDevicesForDirect',
    'mode',
    `${what}; "mode": "direct" runs at most FANOUT_MAX_DIRECT_DEVICES of them. Leave mode out, or use "job".`,
  );
}
