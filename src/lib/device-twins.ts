import type { Registry } from 'azure-iothub';
import { HubCallTimeoutError } from './error-mapping';
import type { TwinUpdate } from './twin-request';

/**
 * A device twin as the functions answer it: IoT Hub's twin document (identity fields, versions, tags, desired and
 * reported properties with their metadata), copied field by field so that nothing of the SDK's object (its registry
 * client) can slip into an answer.
 */
export interface DeviceTwinView {
  readonly deviceId: string;
  readonly etag: string;
  readonly version?: number;
  readonly status?: string;
  readonly statusReason?: string;
  readonly statusUpdateTime?: string;
  readonly connectionState?: string;
  readonly lastActivityTime?: string;
  readonly cloudToDeviceMessageCount?: number;
  readonly modelId?: string;
  readonly tags: unknown;
  readonly properties: { readonly desired: unknown; readonly reported: unknown };
}

/** How long a twin call may take before the function gives up (the SDK's HTTP calls have no timeout of their own). */
export const TWIN_CALL_TIMEOUT_MS = 30_000;

/** `Registry.getTwin`: the device's twin; DeviceNotFoundError when the hub does not know it. */
export async function readDeviceTwin(registry: Registry, deviceId: string): Promise<DeviceTwinView> {
  const { responseBody } = await withinTimeout(registry.getTwin(deviceId));
  return twinView(responseBody);
}

/** `Registry.updateTwin`: merges the patch; InvalidEtagError (412) when `etag` is not the twin's current one. */
export async function updateDeviceTwin(registry: Registry, update: TwinUpdate): Promise<DeviceTwinView> {
  const { responseBody } = await withinTimeout(
    registry.updateTwin(update.deviceId, update.patch, update.etag),
  );
  return twinView(responseBody);
}

async function withinTimeout<T>(call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new HubCallTimeoutError(`IoT Hub did not answer within ${TWIN_CALL_TIMEOUT_MS / 1000} s.`));
    }, TWIN_CALL_TIMEOUT_MS);
  });
  try {
    return await Promise.race([call, guard]);
  } finally {
    clearTimeout(timer);
  }
}

/** The SDK's Twin (typed loosely by the SDK), read defensively into the view. */
function twinView(twin: unknown): DeviceTwinView {
  const source = (typeof twin === 'object' && twin !== null ? twin : {}) as Record<string, unknown>;
  const properties = (
    typeof source.properties === 'object' && source.properties !== null ? source.properties : {}
  ) as Record<string, unknown>;
  const text = (key: string) => (typeof source[key] === 'string' ? { [key]: source[key] } : {});
  const number = (key: string) => (typeof source[key] === 'number' ? { [key]: source[key] } : {});
  return {
    deviceId: typeof source.deviceId === 'string' ? source.deviceId : '',
    etag: typeof source.etag === 'string' ? source.etag : '',
    ...number('version'),
    ...text('status'),
    ...text('statusReason'),
    ...text('statusUpdateTime'),
    ...text('connectionState'),
    ...text('lastActivityTime'),
    ...number('cloudToDeviceMessageCount'),
    ...text('modelId'),
    tags: source.tags ?? {},
    properties: { desired: properties.desired ?? {}, reported: properties.reported ?? {} },
  };
}
