import { parseArgs } from 'node:util';
import { EMULATOR_DEFAULTS, type EmulatorOptions } from './emulator';
import { DEVICE_ID_RULE, isValidDeviceId, isValidHubName } from './hub/identifiers';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const EMULATOR_USAGE = `Usage: iothub-emulator [options]   (npm run emulator -- [options])

A local Azure IoT Hub: MQTT over TLS for devices, HTTPS REST for services, with the official SDKs unmodified.

Options (environment variable in brackets):
  --hub-name <name>      hub name; host name is <name>.azure-devices.net [IOTHUB_EMULATOR_HUB_NAME]
                         (default ${EMULATOR_DEFAULTS.hubName})
  --mqtt-port <port>     MQTT/TLS port for devices, 0 = any free port [IOTHUB_EMULATOR_MQTT_PORT] (default ${EMULATOR_DEFAULTS.mqttPort})
  --https-port <port>    HTTPS port for the service API, 0 = any free port [IOTHUB_EMULATOR_HTTPS_PORT] (default ${EMULATOR_DEFAULTS.httpsPort})
  --amqp-port <port>     Event Hub-compatible endpoint, plain AMQP, 0 = any free port [IOTHUB_EMULATOR_AMQP_PORT] (default ${EMULATOR_DEFAULTS.amqpPort})
  --amqps-port <port>    also serve it over AMQP/TLS on this port (5671 in Azure; off by default) [IOTHUB_EMULATOR_AMQPS_PORT]
  --partitions <n>       partitions of the Event Hub-compatible endpoint, 1..32 [IOTHUB_EMULATOR_PARTITIONS] (default ${EMULATOR_DEFAULTS.partitionCount})
  --consumer-group <name>  consumer group besides $Default; repeat or separate with commas [IOTHUB_EMULATOR_CONSUMER_GROUPS]
  --retention-hours <h>  how long telemetry is kept, 1..168 [IOTHUB_EMULATOR_RETENTION_HOURS] (default ${EMULATOR_DEFAULTS.retentionHours})
  --max-partition-mb <n> size cap of each partition's log in MiB [IOTHUB_EMULATOR_MAX_PARTITION_MB] (default ${EMULATOR_DEFAULTS.maxPartitionMiB})
  --bind <address>       address to listen on [IOTHUB_EMULATOR_BIND] (default ${EMULATOR_DEFAULTS.bindAddress})
  --data-dir <path>      registry, keys and certificates [IOTHUB_EMULATOR_DATA_DIR] (default ./${EMULATOR_DEFAULTS.dataDir})
  --device <id>          create this device at start; repeat or separate with commas [IOTHUB_EMULATOR_DEVICES]
  --reset                wipe the data directory first
  --help                 show this help

It prints each created device's connection string, the service connection string, the Event Hub-compatible
connection string (for @azure/event-hubs, the Functions Event Hub trigger) and the CA certificate path.
Trust the CA with NODE_EXTRA_CA_CERTS=<path> or the SDK's setOptions({ ca }).`;

export type CliCommand = { help: true } | { help: false; options: EmulatorOptions };

/** Reads flags, then environment variables, then defaults; every value is validated with a message naming it. */
export function parseEmulatorArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'hub-name': { type: 'string' },
        'mqtt-port': { type: 'string' },
        'https-port': { type: 'string' },
        'amqp-port': { type: 'string' },
        'amqps-port': { type: 'string' },
        partitions: { type: 'string' },
        'consumer-group': { type: 'string', multiple: true },
        'retention-hours': { type: 'string' },
        'max-partition-mb': { type: 'string' },
        bind: { type: 'string' },
        'data-dir': { type: 'string' },
        device: { type: 'string', multiple: true },
        reset: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun with --help for the options.`);
  }
  if (values.help) return { help: true };

  const hubName = values['hub-name'] ?? env.IOTHUB_EMULATOR_HUB_NAME ?? EMULATOR_DEFAULTS.hubName;
  if (!isValidHubName(hubName)) {
    throw new UsageError(
      `--hub-name ${JSON.stringify(hubName)} is invalid: use 3 to 50 letters, digits or hyphens.`,
    );
  }
  const deviceList = values.device ?? (env.IOTHUB_EMULATOR_DEVICES ? [env.IOTHUB_EMULATOR_DEVICES] : []);
  const devices = splitList(deviceList);
  for (const id of devices) {
    if (!isValidDeviceId(id))
      throw new UsageError(`--device ${JSON.stringify(id)} is invalid: use ${DEVICE_ID_RULE}.`);
  }
  const groupList =
    values['consumer-group'] ??
    (env.IOTHUB_EMULATOR_CONSUMER_GROUPS ? [env.IOTHUB_EMULATOR_CONSUMER_GROUPS] : []);
  const consumerGroups = splitList(groupList);
  for (const group of consumerGroups) {
    if (!CONSUMER_GROUP.test(group)) {
      throw new UsageError(
        `--consumer-group ${JSON.stringify(group)} is invalid: use 1 to 50 letters, digits, periods, hyphens and underscores, starting and ending with a letter or digit.`,
      );
    }
  }
  const amqpsPort = values['amqps-port'] ?? env.IOTHUB_EMULATOR_AMQPS_PORT;
  const dataDir = values['data-dir'] ?? env.IOTHUB_EMULATOR_DATA_DIR ?? EMULATOR_DEFAULTS.dataDir;
  if (dataDir.trim() === '') throw new UsageError('--data-dir must not be empty.');
  return {
    help: false,
    options: {
      hubName,
      mqttPort: readPort(
        '--mqtt-port',
        values['mqtt-port'] ?? env.IOTHUB_EMULATOR_MQTT_PORT,
        EMULATOR_DEFAULTS.mqttPort,
      ),
      httpsPort: readPort(
        '--https-port',
        values['https-port'] ?? env.IOTHUB_EMULATOR_HTTPS_PORT,
        EMULATOR_DEFAULTS.httpsPort,
      ),
      amqpPort: readPort(
        '--amqp-port',
        values['amqp-port'] ?? env.IOTHUB_EMULATOR_AMQP_PORT,
        EMULATOR_DEFAULTS.amqpPort,
      ),
      ...(amqpsPort ? { amqpsPort: readPort('--amqps-port', amqpsPort, 5671) } : {}),
      partitionCount: readInteger(
        '--partitions',
        values.partitions ?? env.IOTHUB_EMULATOR_PARTITIONS,
        EMULATOR_DEFAULTS.partitionCount,
        1,
        32,
      ),
      consumerGroups,
      retentionHours: readInteger(
        '--retention-hours',
        values['retention-hours'] ?? env.IOTHUB_EMULATOR_RETENTION_HOURS,
        EMULATOR_DEFAULTS.retentionHours,
        1,
        168,
      ),
      maxPartitionMiB: readInteger(
        '--max-partition-mb',
        values['max-partition-mb'] ?? env.IOTHUB_EMULATOR_MAX_PARTITION_MB,
        EMULATOR_DEFAULTS.maxPartitionMiB,
        1,
        1024 * 1024,
      ),
      bindAddress: values.bind ?? env.IOTHUB_EMULATOR_BIND ?? EMULATOR_DEFAULTS.bindAddress,
      dataDir,
      devices,
      reset: values.reset ?? false,
    },
  };
}

export function readPort(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw new UsageError(
      `${name} ${JSON.stringify(value)} is invalid: use a port number from 0 to 65535 (0 = any free port).`,
    );
  }
  return Number(value);
}

/** Event Hubs' rule for consumer group names. */
const CONSUMER_GROUP = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]{0,48}[A-Za-z0-9])$/;

/** Values given by repeating a flag, by commas, or both. */
function splitList(items: readonly string[]): string[] {
  return items
    .flatMap((item) => item.split(','))
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

export function readInteger(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(
      `${name} ${JSON.stringify(value)} is invalid: use a whole number from ${min} to ${max}.`,
    );
  }
  return Number(value);
}
