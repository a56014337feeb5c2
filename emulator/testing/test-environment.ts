import { readFileSync } from 'node:fs';
import type { RunningEmulator } from '../api';
import type { EmulatorSettings } from '../settings-file';

/** Where the Jest global setup keeps its emulator handle for the teardown (both run in Jest's main process). */
export const TEST_HANDLE = Symbol.for('iothub-emulator.jest');

/** The variable naming the settings file of the emulator a test setup started. */
export const SETTINGS_ENV = 'IOTHUB_EMULATOR_SETTINGS';

/** Sets the variables the test workers read (documented on the Jest global setup). */
export function publishTestEnvironment(
  emulator: RunningEmulator,
  settingsPath: string,
  devices: readonly string[],
): void {
  process.env[SETTINGS_ENV] = settingsPath;
  process.env.IOTHUB_CONNECTION_STRING = emulator.info.serviceConnectionString;
  process.env.IOTHUB_EVENTHUB_CONNECTION_STRING = emulator.info.eventHubConnectionString;
  process.env.NODE_EXTRA_CA_CERTS = emulator.info.caPath;
  const [first] = devices;
  if (first !== undefined)
    process.env.IOTHUB_DEVICE_CONNECTION_STRING = emulator.deviceConnectionString(first);
}

/**
 * The settings of the emulator a test setup started (the Jest global setup, or any script that sets
 * IOTHUB_EMULATOR_SETTINGS to an emulator's `settings.json`), for a test that needs more than the variables.
 */
export function readEmulatorSettings(path = process.env[SETTINGS_ENV]): EmulatorSettings {
  if (path === undefined || path === '') {
    throw new Error(
      `${SETTINGS_ENV} is not set: start the emulator first (Jest: globalSetup "iothub-emulator/jest-global-setup"), ` +
        "or set it to the settings.json in a running emulator's data directory.",
    );
  }
  return JSON.parse(readFileSync(path, 'utf8')) as EmulatorSettings;
}
