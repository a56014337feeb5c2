import { parseArgs, type ParseArgsConfig } from 'node:util';
import { readInteger, readPort, splitList, UsageError } from '../../devkit/cli';
import { DEVICE_ID_RULE, isValidDeviceId, isValidHubName } from '../hub/identifiers';
import type { Logger } from '../log';
import { STANDARD_PORTS } from './sdk-connection-strings';

/** How to start an emulator; every value is optional and falls back to the table's default. */
export interface EmulatorOptions {
  /** Hub name; the host name is `<hubName>.azure-devices.net`, as in Azure. */
  readonly hubName?: string;
  /** Address the servers bind to. */
  readonly bindAddress?: string;
  /** Host name written in connection strings as the gateway (must match the certificate). */
  readonly gatewayHost?: string;
  /** 0 picks a free port. */
  readonly mqttPort?: number;
  readonly httpsPort?: number;
  readonly dataDir?: string;
  /** Devices to create (or keep) at start. */
  readonly devices?: readonly string[];
  /** Wipe the data directory first. */
  readonly reset?: boolean;
  /**
   * Azure's ports, which the SDKs dial when a connection string names none: HTTPS (REST and WebSockets) on 443,
   * MQTT on 8883, IoT Hub's AMQP on 5671. Overrides httpsPort, mqttPort and iothubAmqpsPort.
   */
  readonly standardPorts?: boolean;
  /** CA certificate files (PEM) to register at start, for `certificateAuthority` X.509 devices. */
  readonly caCertificates?: readonly string[];
  /** X.509 devices to create at start, with a certificate from the emulator's CA in `<dataDir>/devices/`. */
  readonly x509Devices?: readonly string[];
  /** IoT Hub's own AMQP endpoint (devices and services), AMQP over TLS (0 picks a free port). */
  readonly iothubAmqpsPort?: number;
  /** Plain AMQP port of the Event Hub-compatible endpoint (0 picks a free port). */
  readonly amqpPort?: number;
  /** AMQP over TLS port of the Event Hub-compatible endpoint; not opened unless given (0 picks a free port). */
  readonly amqpsPort?: number;
  /** Partitions of the Event Hub-compatible endpoint. */
  readonly partitionCount?: number;
  /** Consumer groups besides `$Default` and `functions`. */
  readonly consumerGroups?: readonly string[];
  /** How long telemetry is kept, in hours. */
  readonly retentionHours?: number;
  /** Size cap of each partition's log, in MiB; the oldest events go first. */
  readonly maxPartitionMiB?: number;
  /** Connections per port that may be waiting to authenticate at once. */
  readonly maxPendingConnections?: number;
  /** Seconds a connection may take to authenticate: TLS, then CONNECT or AMQP OPEN. */
  readonly handshakeTimeoutSeconds?: number;
  /** Serve the dashboard (a web page on 127.0.0.1 showing the hub, its devices and their telemetry). */
  readonly dashboard?: boolean;
  /** The dashboard's port on 127.0.0.1 (0 picks a free port). */
  readonly dashboardPort?: number;
  /** fdatasync each group of telemetry before acknowledging it (programmatic only; default true). */
  readonly fsync?: boolean;
  /** Where log lines go (programmatic only; default the console). */
  readonly log?: Logger;
}

type TableKey = Exclude<keyof EmulatorOptions, 'fsync' | 'log'>;

/** One option: its flag, environment variable, default, allowed values and help, declared once. */
interface OptionSpec {
  readonly key: TableKey;
  readonly flag: string;
  readonly env?: string;
  readonly kind: 'port' | 'integer' | 'text' | 'list' | 'switch';
  /** A switch whose flag turns the option off (`--no-dashboard`): the flag gives false. */
  readonly negates?: boolean;
  /** Shown in --help after the flag. */
  readonly placeholder?: string;
  readonly defaultValue?: number | string | readonly string[] | boolean;
  readonly min?: number;
  readonly max?: number;
  /** For text and list values: what a valid value is, and the check. */
  readonly rule?: { readonly text: string; readonly test: (value: string) => boolean };
  readonly help: string;
}

/** Event Hubs' rule for consumer group names. */
const CONSUMER_GROUP = /^(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]{0,48}[A-Za-z0-9])$/;

/** Every emulator option. `--help` is printed from this table and flags are parsed by it. */
export const EMULATOR_OPTIONS: readonly OptionSpec[] = [
  {
    key: 'hubName',
    flag: '--hub-name',
    env: 'IOTHUB_EMULATOR_HUB_NAME',
    kind: 'text',
    placeholder: '<name>',
    defaultValue: 'local-iothub',
    rule: { text: '3 to 50 letters, digits or hyphens', test: isValidHubName },
    help: 'hub name; the host name is <name>.azure-devices.net',
  },
  {
    key: 'mqttPort',
    flag: '--mqtt-port',
    env: 'IOTHUB_EMULATOR_MQTT_PORT',
    kind: 'port',
    defaultValue: 8883,
    help: 'MQTT/TLS port for devices, 0 = any free port',
  },
  {
    key: 'httpsPort',
    flag: '--https-port',
    env: 'IOTHUB_EMULATOR_HTTPS_PORT',
    kind: 'port',
    defaultValue: 8443,
    help: 'HTTPS port for the service API, 0 = any free port',
  },
  {
    key: 'iothubAmqpsPort',
    flag: '--iothub-amqps-port',
    env: 'IOTHUB_EMULATOR_IOTHUB_AMQPS_PORT',
    kind: 'port',
    defaultValue: 5671,
    help: "IoT Hub's AMQP/TLS endpoint for devices and services (C2D, feedback), 0 = any free port",
  },
  {
    key: 'amqpPort',
    flag: '--amqp-port',
    env: 'IOTHUB_EMULATOR_AMQP_PORT',
    kind: 'port',
    defaultValue: 5672,
    help: 'Event Hub-compatible endpoint (telemetry), plain AMQP, 0 = any free port',
  },
  {
    key: 'amqpsPort',
    flag: '--amqps-port',
    env: 'IOTHUB_EMULATOR_AMQPS_PORT',
    kind: 'port',
    help: 'also serve the Event Hub-compatible endpoint over AMQP/TLS on this port (off by default)',
  },
  {
    key: 'partitionCount',
    flag: '--partitions',
    env: 'IOTHUB_EMULATOR_PARTITIONS',
    kind: 'integer',
    placeholder: '<n>',
    defaultValue: 4,
    min: 1,
    max: 32,
    help: 'partitions of the Event Hub-compatible endpoint (fixed per data directory)',
  },
  {
    key: 'consumerGroups',
    flag: '--consumer-group',
    env: 'IOTHUB_EMULATOR_CONSUMER_GROUPS',
    kind: 'list',
    placeholder: '<name>',
    defaultValue: [],
    rule: {
      text: '1 to 50 letters, digits, periods, hyphens and underscores, starting and ending with a letter or digit',
      test: (value) => CONSUMER_GROUP.test(value),
    },
    help: 'consumer group besides $Default and functions; repeat or separate with commas',
  },
  {
    key: 'retentionHours',
    flag: '--retention-hours',
    env: 'IOTHUB_EMULATOR_RETENTION_HOURS',
    kind: 'integer',
    placeholder: '<h>',
    defaultValue: 24,
    min: 1,
    max: 168,
    help: 'how long telemetry is kept',
  },
  {
    key: 'maxPartitionMiB',
    flag: '--max-partition-mb',
    env: 'IOTHUB_EMULATOR_MAX_PARTITION_MB',
    kind: 'integer',
    placeholder: '<n>',
    defaultValue: 256,
    min: 1,
    max: 1024 * 1024,
    help: "size cap of each partition's telemetry log in MiB; the oldest events go first",
  },
  {
    key: 'maxPendingConnections',
    flag: '--max-pending-connections',
    env: 'IOTHUB_EMULATOR_MAX_PENDING_CONNECTIONS',
    kind: 'integer',
    placeholder: '<n>',
    defaultValue: 1000,
    min: 1,
    max: 100_000,
    help: 'connections per port that may wait to authenticate at once; more are closed at once',
  },
  {
    key: 'handshakeTimeoutSeconds',
    flag: '--handshake-timeout',
    env: 'IOTHUB_EMULATOR_HANDSHAKE_TIMEOUT',
    kind: 'integer',
    placeholder: '<s>',
    defaultValue: 10,
    min: 1,
    max: 600,
    help: 'seconds a connection may take to authenticate (TLS, then MQTT CONNECT or AMQP OPEN)',
  },
  {
    key: 'dashboardPort',
    flag: '--dashboard-port',
    env: 'IOTHUB_EMULATOR_DASHBOARD_PORT',
    kind: 'port',
    defaultValue: 8090,
    help: 'port of the dashboard, a web page on 127.0.0.1 (its URL, with a token, is printed), 0 = any free port',
  },
  {
    key: 'dashboard',
    flag: '--no-dashboard',
    kind: 'switch',
    negates: true,
    defaultValue: true,
    help: 'do not serve the dashboard',
  },
  {
    key: 'bindAddress',
    flag: '--bind',
    env: 'IOTHUB_EMULATOR_BIND',
    kind: 'text',
    placeholder: '<address>',
    defaultValue: '127.0.0.1',
    rule: { text: 'an IP address or host name', test: (value) => /^[A-Za-z0-9.:[\]-]{1,253}$/.test(value) },
    help: 'address to listen on (the dashboard stays on 127.0.0.1)',
  },
  {
    key: 'gatewayHost',
    flag: '--gateway-host',
    env: 'IOTHUB_EMULATOR_GATEWAY_HOST',
    kind: 'text',
    placeholder: '<host>',
    defaultValue: 'localhost',
    rule: {
      text: 'a host name the certificate names',
      test: (value) => /^[A-Za-z0-9.-]{1,253}$/.test(value),
    },
    help: 'host written in connection strings as GatewayHostName',
  },
  {
    key: 'dataDir',
    flag: '--data-dir',
    env: 'IOTHUB_EMULATOR_DATA_DIR',
    kind: 'text',
    placeholder: '<path>',
    defaultValue: '.iothub-emulator',
    rule: { text: 'a path', test: (value) => value.trim() !== '' },
    help: 'state.json (registry, policy keys), certs/ (CA and server certificate), events/ (telemetry)',
  },
  {
    key: 'devices',
    flag: '--device',
    env: 'IOTHUB_EMULATOR_DEVICES',
    kind: 'list',
    placeholder: '<id>',
    defaultValue: [],
    rule: { text: DEVICE_ID_RULE, test: isValidDeviceId },
    help: 'create this device at start (kept if it exists); repeat or separate with commas',
  },
  {
    key: 'x509Devices',
    flag: '--x509-device',
    env: 'IOTHUB_EMULATOR_X509_DEVICES',
    kind: 'list',
    placeholder: '<id>',
    defaultValue: [],
    rule: { text: DEVICE_ID_RULE, test: isValidDeviceId },
    help: "create this X.509 (CA) device at start, its certificate from the emulator's CA in <data-dir>/devices/",
  },
  {
    key: 'caCertificates',
    flag: '--ca-certificate',
    env: 'IOTHUB_EMULATOR_CA_CERTIFICATES',
    kind: 'list',
    placeholder: '<file>',
    defaultValue: [],
    rule: { text: 'a PEM file path', test: (value) => value.trim() !== '' },
    help: 'register this CA certificate (PEM) for X.509 devices, named after the file; emulator-only (ARM in Azure)',
  },
  {
    key: 'reset',
    flag: '--reset',
    kind: 'switch',
    defaultValue: false,
    help: 'wipe the data directory first (registry, keys, certificates, telemetry)',
  },
  {
    key: 'standardPorts',
    flag: '--standard-ports',
    kind: 'switch',
    defaultValue: false,
    help:
      "Azure's ports, so that connection strings with HostName=localhost work in every SDK unmodified: HTTPS " +
      '(REST, WebSockets) 443, MQTT 8883, AMQP 5671; overrides the three port options; 443 needs a privilege',
  },
];

/** What `--standard-ports` sets. */
const STANDARD_PORT_OPTIONS = {
  httpsPort: STANDARD_PORTS.https,
  mqttPort: STANDARD_PORTS.mqtt,
  iothubAmqpsPort: STANDARD_PORTS.iothubAmqps,
} satisfies EmulatorOptions;

/** Consumer groups besides `$Default` that every emulator has, as `azd up` creates them in Azure. */
export const DEFAULT_CONSUMER_GROUPS: readonly string[] = ['functions'];

/** Options with every default filled in: what `Emulator.start` runs with. */
export type ResolvedEmulatorOptions = Required<Omit<EmulatorOptions, 'amqpsPort' | 'log'>> &
  Pick<EmulatorOptions, 'amqpsPort' | 'log'>;

/** What the command line asks for: help, the version, or to run (printing the banner, or the settings as JSON). */
export type CliCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'run'; readonly options: EmulatorOptions; readonly printSettings: 'banner' | 'json' };

/** Reads flags, then environment variables, then defaults; every value is checked, errors name the flag. */
export function parseEmulatorArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  const flags: NonNullable<ParseArgsConfig['options']> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    'print-settings': { type: 'string' },
  };
  for (const spec of EMULATOR_OPTIONS) {
    flags[spec.flag.slice(2)] =
      spec.kind === 'switch' ? { type: 'boolean' } : { type: 'string', multiple: spec.kind === 'list' };
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: flags }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nRun with --help for the options.`);
  }
  if (values.help === true) return { kind: 'help' };
  if (values.version === true) return { kind: 'version' };
  const printSettings = values['print-settings'];
  if (printSettings !== undefined && printSettings !== 'json') {
    throw new UsageError(
      `--print-settings ${JSON.stringify(printSettings)} is invalid: the only format is json.\nRun with --help for the options.`,
    );
  }
  const options: Record<string, unknown> = {};
  for (const spec of EMULATOR_OPTIONS) {
    const flagValue = values[spec.flag.slice(2)];
    const envValue = spec.env === undefined ? undefined : env[spec.env];
    const value = readValue(spec, flagValue, envValue);
    if (value !== undefined) options[spec.key] = value;
  }
  return { kind: 'run', options, printSettings: printSettings === 'json' ? 'json' : 'banner' };
}

/**
 * Options given in code, checked by the same table as flags (ranges, names) and completed with its defaults, so
 * that `startEmulator()` and the command line cannot disagree.
 */
export function resolveEmulatorOptions(options: EmulatorOptions): ResolvedEmulatorOptions {
  const resolved: Record<string, unknown> = { fsync: true, ...options };
  for (const spec of EMULATOR_OPTIONS) {
    const value = options[spec.key];
    if (value === undefined) {
      if (spec.defaultValue !== undefined) resolved[spec.key] = spec.defaultValue;
      continue;
    }
    checkValue(spec, value, spec.key);
  }
  if (resolved.standardPorts === true) Object.assign(resolved, STANDARD_PORT_OPTIONS);
  return resolved as ResolvedEmulatorOptions;
}

/** The defaults of the table, for tools that start an emulator (npm start prints the same ports). */
export const EMULATOR_DEFAULTS: ResolvedEmulatorOptions = resolveEmulatorOptions({});

/** `--help`, written from the table. */
export function emulatorUsage(): string {
  const rows = EMULATOR_OPTIONS.map((spec) => {
    const left = `  ${spec.flag}${spec.kind === 'switch' ? '' : ` ${spec.placeholder ?? '<port>'}`}`;
    const range = spec.min !== undefined && spec.max !== undefined ? `, ${spec.min}..${spec.max}` : '';
    const fallback =
      spec.defaultValue === undefined || Array.isArray(spec.defaultValue) || spec.kind === 'switch'
        ? ''
        : ` (default ${String(spec.defaultValue)})`;
    const env = spec.env === undefined ? '' : ` [${spec.env}]`;
    return `${left.padEnd(34)}${spec.help}${range}${fallback}${env}`;
  });
  return [
    'Usage: iothub-emulator [options]   (npm run emulator -- [options])',
    '',
    'A local Azure IoT Hub for the official SDKs, unmodified: devices over MQTT/TLS, the service REST API over HTTPS,',
    'telemetry on an Event Hub-compatible endpoint over AMQP.',
    '',
    'Options (environment variable in brackets; a flag wins over its variable):',
    ...rows,
    '  --print-settings json           once ready, print ports, connection strings, CA path and health URL as one',
    '                                  line of JSON on stdout instead of the banner (logs go to stderr); the same',
    '                                  JSON is in <data dir>/settings.json while the emulator runs',
    '  --version, -v                   print the version and exit',
    '  --help, -h                      show this help',
    '',
    'It prints the service connection string, the Event Hub-compatible connection string (for @azure/event-hubs and',
    "the Functions host), each device's connection string and the CA certificate path. Trust the CA with",
    "NODE_EXTRA_CA_CERTS=<path> or the SDK's setOptions({ ca }). GET https://localhost:<https port>/health answers",
    '200 once it serves (no token needed).',
  ].join('\n');
}

function readValue(
  spec: OptionSpec,
  flagValue: string | boolean | (string | boolean)[] | undefined,
  envValue: string | undefined,
): unknown {
  switch (spec.kind) {
    case 'switch':
      if (flagValue !== true) return spec.defaultValue;
      return spec.negates !== true;
    case 'list': {
      const raw = Array.isArray(flagValue) ? flagValue.map(String) : envValue ? [envValue] : [];
      const items = splitList(raw);
      for (const item of items) checkValue(spec, item, spec.flag, true);
      return items;
    }
    case 'port': {
      const text = typeof flagValue === 'string' ? flagValue : envValue;
      if (text === undefined || text === '') return spec.defaultValue;
      return readPort(spec.flag, text, 0);
    }
    case 'integer': {
      const text = typeof flagValue === 'string' ? flagValue : envValue;
      return readInteger(spec.flag, text, spec.defaultValue as number, spec.min ?? 0, spec.max ?? 2 ** 31);
    }
    case 'text': {
      const text = typeof flagValue === 'string' ? flagValue : (envValue ?? (spec.defaultValue as string));
      checkValue(spec, text, spec.flag);
      return text;
    }
  }
}

/** Throws a UsageError naming `name` when `value` breaks the option's range or rule. */
function checkValue(spec: OptionSpec, value: unknown, name: string, listItem = false): void {
  const invalid = (what: string) =>
    new UsageError(`${name} ${JSON.stringify(value)} is invalid: use ${what}.`);
  switch (spec.kind) {
    case 'port':
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > 65535) {
        throw invalid('a port number from 0 to 65535 (0 = any free port)');
      }
      return;
    case 'integer':
      if (
        !Number.isInteger(value) ||
        (value as number) < (spec.min ?? 0) ||
        (value as number) > (spec.max ?? 2 ** 31)
      ) {
        throw invalid(`a whole number from ${spec.min ?? 0} to ${spec.max ?? 2 ** 31}`);
      }
      return;
    case 'switch':
      if (typeof value !== 'boolean') throw invalid('true or false');
      return;
    case 'list':
      if (!listItem) {
        if (!Array.isArray(value)) throw invalid('a list');
        for (const item of value) checkValue(spec, item, name, true);
        return;
      }
      if (typeof value !== 'string' || !(spec.rule?.test(value) ?? true))
        throw invalid(spec.rule?.text ?? 'text');
      return;
    case 'text':
      if (typeof value !== 'string' || !(spec.rule?.test(value) ?? true))
        throw invalid(spec.rule?.text ?? 'text');
      return;
  }
}
