import { parseCommandLine, UsageError } from '../devkit/cli';
import { parseConnectionString } from '../src/lib/connection-string';
import { MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS } from './interval';
import type { DeviceTransport } from './simulated-device';

export { UsageError } from '../devkit/cli';

export const DEVICE_SIM_USAGE = `Usage: npm run device -- [options]

Simulated device(s) on the Azure IoT device SDK (MQTT or AMQP): telemetry, the SetTelemetryInterval direct
method, and cloud-to-device messages (logged, then completed). Works against Azure IoT Hub and the local emulator.

Options (environment variable in brackets):
  --connection-string <cs>  device connection string [IOTHUB_DEVICE_CONNECTION_STRING, or that line in
                            ./device.env, which azd up writes; IOTHUB_DEVICE_ENV_FILE names another file]
  --devices <n>             run n devices sim-device-01..n in this process, created or reused through the
                            service connection string [IOTHUB_SERVICE_CONNECTION_STRING]
  --transport <mqtt|amqp>   the device SDK transport (default mqtt); with amqp the connection string's
                            GatewayHostName must be the emulator's IoT Hub AMQPS endpoint (default port 5671)
  --gateway <host:port>     device endpoint of the emulator for --devices: its MQTT port, or its IoT Hub AMQPS
                            port with --transport amqp (default: from the connection strings, else
                            localhost:8883, or localhost:5671 for amqp)
  --reject-unparseable      reject cloud-to-device messages whose body is not JSON instead of completing them
                            (AMQP only: MQTT acknowledges every message on receipt and cannot reject)
  --interval <seconds>      telemetry interval, ${MIN_INTERVAL_SECONDS}..${MAX_INTERVAL_SECONDS} (default 1)
  --ca <path>               CA certificate to trust [IOTHUB_EMULATOR_CA_CERT] (default: the emulator's, when
                            the connection string names a GatewayHostName)
  --cert <path>             client certificate (PEM) of an X.509 device, whose connection string has x509=true
                            instead of SharedAccessKey (the emulator's --x509-device writes one)
  --key <path>              the private key (PEM) of --cert
  --quiet                   no line per telemetry message
  --help                    show this help`;

export type DeviceSimCommand =
  | { kind: 'help' }
  | {
      kind: 'run';
      connectionString?: string;
      devices?: number;
      serviceConnectionString?: string;
      gateway?: string;
      transport: DeviceTransport;
      rejectUnparseable: boolean;
      intervalSeconds: number;
      caPath?: string;
      /** An X.509 device's certificate and key files. */
      x509?: { readonly certPath: string; readonly keyPath: string };
      quiet: boolean;
    };

const MAX_DEVICES = 10_000;
const TRANSPORTS: readonly DeviceTransport[] = ['mqtt', 'amqp'];

export function parseDeviceSimArgs(argv: readonly string[], env: NodeJS.ProcessEnv): DeviceSimCommand {
  const values = parseCommandLine(argv, {
    'connection-string': { type: 'string' },
    devices: { type: 'string' },
    gateway: { type: 'string' },
    transport: { type: 'string' },
    'reject-unparseable': { type: 'boolean' },
    interval: { type: 'string' },
    ca: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return { kind: 'help' };

  const intervalText = values.interval ?? '1';
  const intervalSeconds = Number(intervalText);
  if (
    !/^\d+$/.test(intervalText) ||
    intervalSeconds < MIN_INTERVAL_SECONDS ||
    intervalSeconds > MAX_INTERVAL_SECONDS
  ) {
    throw new UsageError(
      `--interval must be a whole number of seconds from ${MIN_INTERVAL_SECONDS} to ${MAX_INTERVAL_SECONDS}.`,
    );
  }
  const connectionString = values['connection-string'] ?? env.IOTHUB_DEVICE_CONNECTION_STRING;
  const x509 = readX509Paths(values.cert, values.key);
  if (connectionString !== undefined) checkDeviceConnectionString(connectionString, x509 !== undefined);
  const gateway = values.gateway;
  if (gateway !== undefined && !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(gateway)) {
    throw new UsageError('--gateway must be host:port, e.g. localhost:8883 (or localhost:5671 for amqp).');
  }
  const transport = TRANSPORTS.find((name) => name === (values.transport ?? 'mqtt'));
  if (transport === undefined) throw new UsageError('--transport must be mqtt or amqp.');
  const rejectUnparseable = values['reject-unparseable'] ?? false;
  if (rejectUnparseable && transport !== 'amqp') {
    throw new UsageError(
      '--reject-unparseable needs --transport amqp: MQTT acknowledges every message on receipt and cannot reject.',
    );
  }
  const caPath = values.ca ?? env.IOTHUB_EMULATOR_CA_CERT;
  const common = {
    transport,
    rejectUnparseable,
    intervalSeconds,
    quiet: values.quiet ?? false,
    ...(caPath ? { caPath } : {}),
    ...(x509 ? { x509 } : {}),
    ...(gateway ? { gateway } : {}),
  };

  if (values.devices !== undefined) {
    if (x509)
      throw new UsageError('--cert/--key are for one X.509 device: give --connection-string, not --devices.');
    const devices = Number(values.devices);
    if (!/^\d+$/.test(values.devices) || devices < 1 || devices > MAX_DEVICES) {
      throw new UsageError(`--devices must be a whole number from 1 to ${MAX_DEVICES}.`);
    }
    const serviceConnectionString = env.IOTHUB_SERVICE_CONNECTION_STRING;
    if (!serviceConnectionString) {
      throw new UsageError(
        "--devices needs IOTHUB_SERVICE_CONNECTION_STRING (a service connection string, e.g. the emulator's) to create the devices.",
      );
    }
    return {
      kind: 'run',
      devices,
      serviceConnectionString,
      ...(connectionString ? { connectionString } : {}),
      ...common,
    };
  }
  if (!connectionString) {
    throw new UsageError(
      'Give --connection-string (or IOTHUB_DEVICE_CONNECTION_STRING), or --devices <n>. Run with --help for the options.',
    );
  }
  return { kind: 'run', connectionString, ...common };
}

function readX509Paths(
  certPath: string | undefined,
  keyPath: string | undefined,
): { certPath: string; keyPath: string } | undefined {
  if (certPath === undefined && keyPath === undefined) return undefined;
  if (!certPath || !keyPath) throw new UsageError('Give both --cert and --key for an X.509 device.');
  return { certPath, keyPath };
}

function checkDeviceConnectionString(text: string, hasCertificate: boolean): void {
  const fields = parseConnectionString(text);
  const isX509 = fields?.get('x509')?.toLowerCase() === 'true';
  if (isX509 !== hasCertificate) {
    throw new UsageError(
      isX509
        ? "The connection string is an X.509 device's (x509=true): give its certificate with --cert and --key."
        : '--cert/--key need an X.509 device connection string (HostName=...;DeviceId=...;x509=true).',
    );
  }
  const required = isX509 ? ['HostName', 'DeviceId'] : ['HostName', 'DeviceId', 'SharedAccessKey'];
  const missing = required.filter((key) => !fields?.get(key));
  if (missing.length > 0) {
    throw new UsageError(
      `The device connection string lacks ${missing.join(', ')}. Copy it from the emulator's output or from IoT Hub.`,
    );
  }
}
