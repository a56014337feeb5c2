import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type RunningEmulator } from '../api';
import { parseEmulatorArgs } from '../config/options';
import { SETTINGS_FILE } from '../settings-file';
import { publishTestEnvironment, TEST_HANDLE } from './test-environment';

/**
 * Jest `globalSetup`: one emulator for the whole run, in its own process, on free ports and a fresh data directory
 * (unless IOTHUB_EMULATOR_* variables say otherwise: the same variables as the command line). Before the test
 * workers start it sets, for them:
 *   IOTHUB_EMULATOR_SETTINGS           path of the settings file (ports, connection strings, CA; `readEmulatorSettings()`)
 *   IOTHUB_CONNECTION_STRING           the service connection string (iothubowner)
 *   IOTHUB_DEVICE_CONNECTION_STRING    the first device's, when devices were asked for (IOTHUB_EMULATOR_DEVICES)
 *   IOTHUB_EVENTHUB_CONNECTION_STRING  the Event Hub-compatible endpoint's
 *   NODE_EXTRA_CA_CERTS                the emulator's CA, so that workers trust it (read when a process starts:
 *                                      not in effect with --runInBand, where tests run in this process)
 * `iothub-emulator/jest-global-teardown` stops it.
 */
async function globalSetup(): Promise<void> {
  const command = parseEmulatorArgs([], process.env);
  if (command.kind !== 'run') return;
  const given = command.options;
  const fromEnv = (name: string) => process.env[name] !== undefined && process.env[name] !== '';
  const emulator: RunningEmulator = await startEmulator({
    ...given,
    // Free ports unless a variable fixed one: test runs side by side must not fight over the defaults.
    mqttPort: fromEnv('IOTHUB_EMULATOR_MQTT_PORT') ? given.mqttPort : 0,
    httpsPort: fromEnv('IOTHUB_EMULATOR_HTTPS_PORT') ? given.httpsPort : 0,
    amqpPort: fromEnv('IOTHUB_EMULATOR_AMQP_PORT') ? given.amqpPort : 0,
    iothubAmqpsPort: fromEnv('IOTHUB_EMULATOR_IOTHUB_AMQPS_PORT') ? given.iothubAmqpsPort : 0,
    dataDir: fromEnv('IOTHUB_EMULATOR_DATA_DIR')
      ? given.dataDir
      : mkdtempSync(join(tmpdir(), 'iothub-emulator-jest-')),
    reset: !fromEnv('IOTHUB_EMULATOR_DATA_DIR') || given.reset,
    output: 'pipe',
  });
  (globalThis as Record<symbol, unknown>)[TEST_HANDLE] = emulator;
  publishTestEnvironment(emulator, join(emulator.info.dataDir, SETTINGS_FILE), given.devices ?? []);
}

export = globalSetup;
