#!/usr/bin/env node
import { UsageError } from '../devkit/cli';
import { emulatorUsage, parseEmulatorArgs } from './config/options';
import { Emulator, type EmulatorOptions } from './emulator';
import { OPTIONS_ENV, type ChildMessage, type ParentMessage, type SerializableEmulatorOptions } from './ipc';
import type { Logger } from './log';
import { PACKAGE_INFO } from './package-info';
import { emulatorSettings, removeSettingsFile, writeSettingsFile } from './settings-file';

/** With `--print-settings json` stdout carries one line of JSON, so log lines go to stderr. */
const stderrLogger: Logger = {
  info: (message) => {
    console.error(`[emulator] ${message}`);
  },
  warn: (message) => {
    console.error(`[emulator] ${message}`);
  },
};

/**
 * Entry point of `iothub-emulator` (`npx iothub-emulator`, `npm run emulator`). Forked by the programmatic API
 * (emulator/api.ts) it takes its options from the environment and talks over IPC instead of printing the banner.
 */
async function main(): Promise<void> {
  const forked = typeof process.send === 'function';
  let options: EmulatorOptions;
  let printSettings: 'banner' | 'json' | 'ipc' = 'ipc';
  if (forked && process.env[OPTIONS_ENV]) {
    options = JSON.parse(process.env[OPTIONS_ENV]) as SerializableEmulatorOptions;
  } else {
    const command = parseEmulatorArgs(process.argv.slice(2), process.env);
    if (command.kind === 'help') {
      console.log(emulatorUsage());
      return;
    }
    if (command.kind === 'version') {
      console.log(PACKAGE_INFO.version);
      return;
    }
    printSettings = command.printSettings;
    options = printSettings === 'json' ? { ...command.options, log: stderrLogger } : command.options;
  }

  const emulator = await Emulator.start(options);
  const settings = emulatorSettings(emulator);
  await writeSettingsFile(settings);
  const connectionStrings = (deviceIds: readonly string[]) =>
    Object.fromEntries(deviceIds.map((id) => [id, emulator.deviceConnectionString(id)]));

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= emulator
      .stop()
      .then(() => removeSettingsFile(settings.dataDir))
      .then(() => {
        if (process.connected) process.disconnect();
      });
    return stopping;
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());

  if (forked) {
    const send = (message: ChildMessage) => process.send?.(message);
    process.on('message', (message: ParentMessage) => {
      switch (message.type) {
        case 'stop':
          void stop();
          return;
        case 'stats':
          void emulator.stats().then((stats) => {
            send({ type: 'stats', requestId: message.requestId, stats });
          });
          return;
        case 'reset':
          emulator
            .reset()
            .then(() => {
              const all = emulator.hub.registry.records().map((record) => record.deviceId);
              send({
                type: 'reset',
                requestId: message.requestId,
                deviceConnectionStrings: connectionStrings(all),
              });
            })
            .catch((error: unknown) => {
              send({ type: 'reset', requestId: message.requestId, error: (error as Error).message });
            });
          return;
        case 'ensure-devices':
          emulator.hub
            .ensureDevices(message.deviceIds)
            .then(() => {
              send({
                type: 'devices',
                requestId: message.requestId,
                deviceConnectionStrings: connectionStrings(message.deviceIds),
              });
            })
            .catch((error: unknown) => {
              send({ type: 'devices', requestId: message.requestId, error: (error as Error).message });
            });
          return;
        case 'ensure-modules':
          emulator
            .ensureModules(message.modules)
            .then((strings) => {
              send({ type: 'devices', requestId: message.requestId, deviceConnectionStrings: strings });
            })
            .catch((error: unknown) => {
              send({ type: 'devices', requestId: message.requestId, error: (error as Error).message });
            });
      }
    });
    // A parent that dies must not leave the emulator running.
    process.once('disconnect', () => void stop());
    const all = emulator.hub.registry.records().map((record) => record.deviceId);
    send({ type: 'ready', info: emulator.info, deviceConnectionStrings: connectionStrings(all) });
    return;
  }
  if (printSettings === 'json') console.log(JSON.stringify(settings));
  else printBanner(emulator, options.devices ?? []);
}

function printBanner(emulator: Emulator, createdDevices: readonly string[]): void {
  const { info } = emulator;
  const lines = [
    `IoT Hub emulator "${info.hubName}" is running (Ctrl+C to stop).`,
    `  Devices (MQTT over TLS):  localhost:${info.mqttPort}`,
    `  Service API (HTTPS):      https://localhost:${info.httpsPort}  (also MQTT and AMQP over WebSockets at /$iothub/websocket)`,
    `  IoT Hub AMQP (TLS):       amqps://localhost:${info.iothubAmqpsPort}  (devices on AMQP; service C2D and feedback)`,
    `  Event Hub-compatible:     amqp://localhost:${info.amqpPort}` +
      (info.amqpsPort === undefined ? '' : `, amqps://localhost:${info.amqpsPort}`) +
      `  (${info.eventHubName}: ${info.partitionCount} partitions; consumer groups ${info.consumerGroups.join(', ')})`,
    `  CA certificate:           ${info.caPath}`,
    `      trust it with NODE_EXTRA_CA_CERTS=${info.caPath}  (or the SDK's setOptions({ ca }))`,
    `  Data directory:           ${info.dataDir}  (settings.json there: these values as JSON)`,
    `  Health:                   https://localhost:${info.httpsPort}/health`,
    ...(info.dashboardUrl === undefined
      ? []
      : ['', `Dashboard (open in a browser; the token changes at each start):`, `  ${info.dashboardUrl}`]),
    '',
    'Service connection string (IOTHUB_SERVICE_CONNECTION_STRING):',
    `  ${info.serviceConnectionString}`,
    '',
    'Event Hub-compatible connection string (IOTHUB_EVENTS_CONNECTION; telemetry, for @azure/event-hubs and the Functions host):',
    `  ${info.eventHubConnectionString}`,
  ];
  for (const deviceId of createdDevices) {
    lines.push(
      '',
      `Device ${deviceId} (IOTHUB_DEVICE_CONNECTION_STRING):`,
      `  ${emulator.deviceConnectionString(deviceId)}`,
    );
  }
  // For SDKs of other languages, used as they are (docs/any-language.md).
  lines.push(
    '',
    info.standardPorts
      ? 'For any SDK, unmodified (standard ports):'
      : 'For other SDKs, unmodified (with --standard-ports one HostName=localhost string works everywhere):',
  );
  for (const entry of info.sdkServiceConnectionStrings) {
    lines.push(`  service, ${entry.worksWith}:`, `    ${entry.connectionString}`);
  }
  for (const deviceId of createdDevices) {
    for (const entry of emulator.sdkDeviceConnectionStrings(deviceId)) {
      lines.push(`  device ${deviceId}, ${entry.worksWith}:`, `    ${entry.connectionString}`);
    }
  }
  console.log(lines.join('\n'));
}

main().catch((error: unknown) => {
  const message =
    error instanceof UsageError ? error.message : `The emulator could not start: ${(error as Error).message}`;
  console.error(message);
  process.send?.({ type: 'failed', error: message } satisfies ChildMessage);
  process.exitCode = error instanceof UsageError ? 2 : 1;
  if (process.connected) process.disconnect();
});
