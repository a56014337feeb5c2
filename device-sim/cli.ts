#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { createIotHubRegistry } from '../src/lib/iothub-client';
import { parseConnectionString } from '../src/lib/connection-string';
import { DEFAULT_EMULATOR_CA_CERT, readIotHubSettings, type IotHubSettings } from '../src/lib/settings';
import { DEVICE_SIM_USAGE, parseDeviceSimArgs, UsageError, type DeviceSimCommand } from './config';
import { SimulatedDevice } from './simulated-device';
import { withDeviceEnvFile } from './device-env-file';
import { simulatedDeviceIds, ensureDeviceConnectionStrings } from './fleet';

const START_BATCH = 50;

async function main(): Promise<void> {
  const command = parseDeviceSimArgs(process.argv.slice(2), withDeviceEnvFile(process.env));
  if (command.kind === 'help') {
    console.log(DEVICE_SIM_USAGE);
    return;
  }
  const connectionStrings = await resolveConnectionStrings(command);
  const ca = readCa(command, connectionStrings[0] ?? '');
  const x509 = command.x509 ? readX509(command.x509) : undefined;
  const single = connectionStrings.length === 1;
  const devices = connectionStrings.map(
    (connectionString) =>
      new SimulatedDevice({
        connectionString,
        transport: command.transport,
        rejectUnparseable: command.rejectUnparseable,
        intervalSeconds: command.intervalSeconds,
        logTelemetry: single && !command.quiet,
        ...(ca ? { ca } : {}),
        ...(x509 ? { x509 } : {}),
      }),
  );
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    console.log('Stopping the simulated device(s)...');
    void Promise.all(devices.map((device) => device.stop())).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  // Connect a few dozen at a time: a thousand simultaneous TLS handshakes would only time each other out.
  for (let i = 0; i < devices.length; i += START_BATCH) {
    await Promise.all(devices.slice(i, i + START_BATCH).map((device) => device.start()));
  }
  console.log(
    `${devices.length} simulated device(s) running over ${command.transport.toUpperCase()} (Ctrl+C to stop).`,
  );
  if (!single) {
    setInterval(() => {
      const sent = devices.reduce((sum, device) => sum + device.messagesSent, 0);
      console.log(`${devices.length} devices, ${sent} telemetry messages sent so far`);
    }, 10_000).unref();
  }
}

async function resolveConnectionStrings(
  command: Extract<DeviceSimCommand, { kind: 'run' }>,
): Promise<string[]> {
  if (command.devices === undefined) return [command.connectionString ?? ''];
  const settings = readIotHubSettings({
    ...process.env,
    IOTHUB_SERVICE_CONNECTION_STRING: command.serviceConnectionString,
  });
  const gateway = command.gateway ?? defaultGateway(command, settings);
  return ensureDeviceConnectionStrings(
    createIotHubRegistry(settings),
    settings.hostName,
    simulatedDeviceIds(command.devices),
    gateway,
  );
}

/**
 * Where the fleet's devices connect (none: the SDK uses the hub's host name). MQTT: the device connection string's
 * gateway, else the emulator's default MQTT port. AMQP: the emulator's IoT Hub AMQPS endpoint, as the service
 * connection string names it (AmqpGatewayHostName, default localhost:5671).
 */
function defaultGateway(
  command: Extract<DeviceSimCommand, { kind: 'run' }>,
  settings: IotHubSettings,
): string | undefined {
  const emulator = settings.auth === 'shared-access-key' ? settings.emulator : undefined;
  if (command.transport === 'amqp') {
    if (!emulator) return undefined;
    const { host, port } = emulator.amqp;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }
  const fromDevice = command.connectionString
    ? parseConnectionString(command.connectionString)?.get('GatewayHostName')
    : undefined;
  return fromDevice ?? (emulator ? 'localhost:8883' : undefined);
}

/** The emulator's CA when the connection string points at a gateway (the emulator) and no CA was given. */
function readCa(
  command: Extract<DeviceSimCommand, { kind: 'run' }>,
  connectionString: string,
): string | undefined {
  const usesGateway = parseConnectionString(connectionString)?.has('GatewayHostName') ?? false;
  const path =
    command.caPath ??
    (usesGateway && existsSync(DEFAULT_EMULATOR_CA_CERT) ? DEFAULT_EMULATOR_CA_CERT : undefined);
  if (!path) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(
      `Cannot read the CA certificate ${path}; give the path the emulator prints with --ca.`,
    );
  }
}

/** The X.509 device's certificate and key, read from the --cert and --key files. */
function readX509(paths: { certPath: string; keyPath: string }): { cert: string; key: string } {
  const read = (path: string, what: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      throw new UsageError(`Cannot read the ${what} ${path}.`);
    }
  };
  return { cert: read(paths.certPath, 'certificate (--cert)'), key: read(paths.keyPath, 'key (--key)') };
}

main().catch((error: unknown) => {
  console.error(
    error instanceof UsageError ? error.message : `The device simulator failed: ${(error as Error).message}`,
  );
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
