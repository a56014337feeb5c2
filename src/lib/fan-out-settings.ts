import { SettingsError } from './errors';

export const FAN_OUT_SETTING = {
  maxDirectDevices: 'FANOUT_MAX_DIRECT_DEVICES',
  concurrency: 'FANOUT_CONCURRENCY',
  maxDeviceIds: 'FANOUT_MAX_DEVICE_IDS',
} as const;

/** The fan-out function's limits, each an app setting with a default. */
export interface FanOutSettings {
  /** Most devices a call runs directly (answering per-device results); more go to an IoT Hub job. */
  readonly maxDirectDevices: number;
  /** Direct-method calls in flight at once during a direct fan-out. */
  readonly concurrency: number;
  /** Longest `deviceIds` list a request may carry. */
  readonly maxDeviceIds: number;
}

interface Limit {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/**
 * Bounds chosen so that a direct call finishes inside the Functions host's timeout and stays under IoT Hub's
 * direct-method throttle (S1: 100 calls/s per unit), and an id list still fits in a request body.
 */
export const FAN_OUT_LIMITS = {
  maxDirectDevices: { name: FAN_OUT_SETTING.maxDirectDevices, min: 1, max: 10_000, default: 100 },
  concurrency: { name: FAN_OUT_SETTING.concurrency, min: 1, max: 64, default: 16 },
  maxDeviceIds: { name: FAN_OUT_SETTING.maxDeviceIds, min: 1, max: 10_000, default: 1000 },
} as const satisfies Record<keyof FanOutSettings, Limit>;

/** Reads the fan-out limits; a malformed one is a SettingsError naming the setting, never silently the default. */
export function readFanOutSettings(env: NodeJS.ProcessEnv = process.env): FanOutSettings {
  return {
    maxDirectDevices: readLimit(env, FAN_OUT_LIMITS.maxDirectDevices),
    concurrency: readLimit(env, FAN_OUT_LIMITS.concurrency),
    maxDeviceIds: readLimit(env, FAN_OUT_LIMITS.maxDeviceIds),
  };
}

function readLimit(env: NodeJS.ProcessEnv, limit: Limit): number {
  const text = env[limit.name]?.trim();
  if (text === undefined || text === '') return limit.default;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < limit.min || value > limit.max) {
    throw new SettingsError(
      limit.name,
      `${limit.name} must be a whole number from ${limit.min} to ${limit.max} (default ${limit.default}).`,
    );
  }
  return value;
}
