#!/usr/bin/env node
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EMULATOR_DEFAULTS, type RunningEmulator, startEmulator } from 'iothub-emulator';
import { parseCommandLine, readInteger, readPort, UsageError } from '../devkit/cli';
import { simulatedDeviceIds } from '../device-sim/fleet';
import type { SimulatedDevice } from '../device-sim/simulated-device';
import { emulatorAppSettings, emulatorHostSettings } from './emulator-settings';
import type { FunctionsHost } from './host/functions-host';

const PROJECT_DIR = join(__dirname, '..', '..');

const USAGE = `Usage: npm start -- [options]

Runs the whole system on this machine: the IoT Hub emulator, the functions on a local host, simulated devices.

Options:
  --devices <n>        simulated devices sim-device-01..n (default 1)
  --port <port>        functions host port (default 7071)
  --mqtt-port <port>   emulator MQTT/TLS port (default ${EMULATOR_DEFAULTS.mqttPort})
  --https-port <port>  emulator HTTPS port (default ${EMULATOR_DEFAULTS.httpsPort})
  --amqp-port <port>   emulator Event Hub-compatible endpoint, AMQP (default ${EMULATOR_DEFAULTS.amqpPort})
  --iothub-amqps-port <port>
                       emulator IoT Hub AMQP/TLS endpoint (default ${EMULATOR_DEFAULTS.iothubAmqpsPort})
  --dashboard-port <port>
                       emulator dashboard on 127.0.0.1 (default ${EMULATOR_DEFAULTS.dashboardPort})
  --no-dashboard       do not serve the dashboard
  --interval <s>       initial telemetry interval in seconds (default 1)
  --reset              wipe the emulator's data directory first
  --help               show this help`;

async function main(): Promise<void> {
  const values = parseCommandLine(process.argv.slice(2), {
    devices: { type: 'string' },
    port: { type: 'string' },
    'mqtt-port': { type: 'string' },
    'https-port': { type: 'string' },
    'amqp-port': { type: 'string' },
    'iothub-amqps-port': { type: 'string' },
    'dashboard-port': { type: 'string' },
    'no-dashboard': { type: 'boolean' },
    interval: { type: 'string' },
    reset: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const deviceCount = readInteger('--devices', values.devices, 1, 1, 10_000);
  const interval = readInteger('--interval', values.interval, 1, 1, 3600);
  const deviceIds = simulatedDeviceIds(deviceCount);

  // The emulator starts in its own process first; the host and the simulator (about 0.8 s of modules: the
  // Functions library, the SDKs) load here meanwhile, instead of before it.
  const starting = startEmulator({
    output: 'inherit',
    devices: deviceIds,
    mqttPort: readPort('--mqtt-port', values['mqtt-port'], EMULATOR_DEFAULTS.mqttPort),
    httpsPort: readPort('--https-port', values['https-port'], EMULATOR_DEFAULTS.httpsPort),
    amqpPort: readPort('--amqp-port', values['amqp-port'], EMULATOR_DEFAULTS.amqpPort),
    iothubAmqpsPort: readPort(
      '--iothub-amqps-port',
      values['iothub-amqps-port'],
      EMULATOR_DEFAULTS.iothubAmqpsPort,
    ),
    reset: values.reset ?? false,
    dashboard: values['no-dashboard'] !== true,
    dashboardPort: readPort('--dashboard-port', values['dashboard-port'], EMULATOR_DEFAULTS.dashboardPort),
  });
  // Handled here so that a failed start does not count as unhandled while the modules load; awaited below.
  starting.catch(() => undefined);
  const [{ FunctionsHost }, { SimulatedDevice }] = await Promise.all([
    import('./host/functions-host.js'),
    import('../device-sim/simulated-device.js'),
  ]);
  const emulator = await starting;
  const stopEmulator = () => emulator.stop();
  let host: FunctionsHost | undefined;
  const devices: SimulatedDevice[] = [];
  try {
    writeLocalSettings(emulatorAppSettings(emulator.info));
    host = await FunctionsHost.start({
      projectDir: PROJECT_DIR,
      port: readPort('--port', values.port, 7071),
      // Checkpoints live with the emulator's events, so that --reset wipes both together.
      settingsOverrides: emulatorHostSettings(emulator.info),
    });
    const ca = readFileSync(emulator.info.caPath, 'utf8');
    for (const deviceId of deviceIds) {
      devices.push(
        new SimulatedDevice({
          connectionString: emulator.deviceConnectionString(deviceId),
          ca,
          intervalSeconds: interval,
          logTelemetry: deviceCount === 1,
        }),
      );
    }
    await Promise.all(devices.map((device) => device.start()));
  } catch (error) {
    await Promise.all(devices.map((device) => device.stop()));
    await host?.stop();
    await stopEmulator();
    throw error;
  }
  printBanner(emulator, host, deviceIds);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the local stack...');
    void Promise.all(devices.map((device) => device.stop()))
      .then(() => host.stop())
      .then(stopEmulator)
      .then(() => {
        console.log('Stopped.');
        process.exit(0);
      });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * `func start` reads local.settings.json: write it with the emulator's settings the first time; later, add the
 * settings it lacks and refresh the emulator's connection strings, never changing any other value.
 */
function writeLocalSettings(settings: Record<string, string>): void {
  const path = join(PROJECT_DIR, 'local.settings.json');
  const example = join(PROJECT_DIR, 'local.settings.json.example');
  if (!existsSync(path)) {
    if (!existsSync(example)) return;
    const content = JSON.parse(readFileSync(example, 'utf8')) as { Values: Record<string, string> };
    Object.assign(content.Values, settings);
    writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    console.log('Wrote local.settings.json with the emulator settings (git-ignored), for func start.');
    return;
  }
  let content: { Values?: Record<string, string> };
  try {
    content = JSON.parse(readFileSync(path, 'utf8')) as { Values?: Record<string, string> };
  } catch {
    return; // the local host reports a malformed file itself
  }
  const values = (content.Values ??= {});
  const missing = Object.keys(settings).filter((key) => !(key in values));
  // Keys change when the emulator starts over (--reset): connection strings that point at the emulator follow
  // them; any other value (a real hub's, say) is the user's and stays.
  const stale = Object.keys(settings).filter(
    (key) =>
      key in values &&
      values[key] !== settings[key] &&
      (values[key] ?? '').includes('UseDevelopmentEmulator=true'),
  );
  if (missing.length === 0 && stale.length === 0) return;
  for (const key of [...missing, ...stale]) values[key] = settings[key] ?? '';
  writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  if (missing.length > 0) console.log(`Added ${missing.join(', ')} to local.settings.json, for func start.`);
  if (stale.length > 0)
    console.log(`Updated ${stale.join(', ')} in local.settings.json (the emulator's keys changed).`);
}

function printBanner(emulator: RunningEmulator, host: FunctionsHost, deviceIds: readonly string[]): void {
  const first = deviceIds[0] ?? 'sim-device-01';
  const { info } = emulator;
  const lines = [
    '',
    '================================================================================',
    ' Local stack is running (Ctrl+C to stop)',
    '================================================================================',
    ...host.httpRoutes().map((route) => ` Function ${route.name}: ${route.methods} ${route.url}`),
    '',
    ' Try it:',
    `   curl -X POST http://localhost:${host.port}/api/devices/${first}/methods/SetTelemetryInterval \\`,
    `        -H 'content-type: application/json' -d '{"payload": 5}'`,
    '',
    ` IoT Hub emulator "${info.hubName}": devices on mqtts://localhost:${info.mqttPort} and amqps://localhost:${info.iothubAmqpsPort}, service API on https://localhost:${info.httpsPort}`,
    ` Event Hub-compatible endpoint: sb://localhost:${info.amqpPort} (AMQP), Event Hub "${info.eventHubName}", ${info.partitionCount} partitions`,
    ` CA certificate: ${info.caPath}`,
    ...eventHubLines(host),
    ...(info.dashboardUrl === undefined ? [] : ['', ` Dashboard: ${info.dashboardUrl}`]),
    '',
    ' IOTHUB_SERVICE_CONNECTION_STRING:',
    `   ${info.serviceConnectionString}`,
    ' IOTHUB_EVENTS_CONNECTION (Event Hub-compatible endpoint, for Event Hubs clients):',
    `   ${info.eventHubConnectionString}`,
    ` IOTHUB_DEVICE_CONNECTION_STRING (${first}):`,
    `   ${emulator.deviceConnectionString(first)}`,
    ...(deviceIds.length > 1
      ? [` (${deviceIds.length} devices: ${first} .. ${deviceIds[deviceIds.length - 1] ?? ''})`]
      : []),
    '================================================================================',
    '',
  ];
  console.log(lines.join('\n'));
}

/** What each Event Hub-triggered function reads, or why it does not run. */
function eventHubLines(host: FunctionsHost): string[] {
  const lines = host.eventHubFunctions.map((fn) =>
    fn.target
      ? ` Function ${fn.name}: telemetry from Event Hub ${fn.target.eventHubName}, consumer group ${fn.target.consumerGroup}`
      : ` Function ${fn.name}: NOT RUNNING (${fn.problem ?? 'see above'})`,
  );
  if (host.checkpointDir && lines.length > 0) lines.push(` Event Hub checkpoints: ${host.checkpointDir}`);
  return lines;
}

main().catch((error: unknown) => {
  const message = (error as Error).message;
  console.error(error instanceof UsageError ? message : `npm start failed: ${message}`);
  if (/EADDRINUSE/.test(message))
    console.error(
      'A port is in use: pick others with --port, --mqtt-port, --https-port, --amqp-port or --dashboard-port.',
    );
  process.exit(error instanceof UsageError ? 2 : 1);
});
