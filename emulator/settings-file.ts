import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../devkit/json-file';
import type { Emulator, EmulatorInfo } from './emulator';
import { PACKAGE_INFO } from './package-info';
import { HEALTH_PATH } from './transports/https/health';

/**
 * What a running emulator listens on and how to reach it, for scripts and for other languages' test setups: the
 * same values as the banner, as JSON. `--print-settings json` prints it on one line once every port listens, and
 * the emulator keeps it in its data directory (`settings.json`, readable by its owner only: it holds keys) while
 * it runs.
 */
export interface EmulatorSettings extends EmulatorInfo {
  readonly name: string;
  readonly version: string;
  readonly pid: number;
  /** `https://localhost:<https port>/health`: 200 once the emulator serves (no token needed; trust `caPath`). */
  readonly healthUrl: string;
  /** Connection strings of the devices in the registry at start, by device id. */
  readonly deviceConnectionStrings: Readonly<Record<string, string>>;
}

export const SETTINGS_FILE = 'settings.json';

export function emulatorSettings(emulator: Emulator): EmulatorSettings {
  const { info } = emulator;
  const deviceIds = emulator.hub.registry.records().map((record) => record.deviceId);
  return {
    name: PACKAGE_INFO.name,
    version: PACKAGE_INFO.version,
    pid: process.pid,
    ...info,
    healthUrl: `https://localhost:${info.httpsPort}${HEALTH_PATH}`,
    deviceConnectionStrings: Object.fromEntries(
      deviceIds.map((deviceId) => [deviceId, emulator.deviceConnectionString(deviceId)]),
    ),
  };
}

export async function writeSettingsFile(settings: EmulatorSettings): Promise<void> {
  await writeFileAtomic(join(settings.dataDir, SETTINGS_FILE), `${JSON.stringify(settings, null, 2)}\n`);
}

/** On a clean stop: a settings file that stays would name ports nobody listens on. */
export async function removeSettingsFile(dataDir: string): Promise<void> {
  await rm(join(dataDir, SETTINGS_FILE), { force: true });
}
