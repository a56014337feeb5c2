/**
 * What the emulator serves, feature by transport: the table its README shows (between the `features` markers,
 * checked by a test) and `--help` points to. A cell is what a client on that transport can do against the
 * emulator; `—` is what IoT Hub itself does not offer on that transport.
 */
export const TRANSPORTS = ['MQTT', 'MQTT over WebSockets', 'AMQP', 'AMQP over WebSockets', 'HTTPS'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** `yes`: served; `no`: IoT Hub offers it here but the emulator does not (yet); `n/a`: IoT Hub does not either. */
export type Support = 'yes' | 'no' | 'n/a';

export interface FeatureRow {
  readonly side: 'device' | 'service';
  readonly feature: string;
  readonly support: Readonly<Record<Transport, Support>>;
  readonly note?: string;
}

const all = (support: Support): Record<Transport, Support> => ({
  MQTT: support,
  'MQTT over WebSockets': support,
  AMQP: support,
  'AMQP over WebSockets': support,
  HTTPS: support,
});

export const FEATURES: readonly FeatureRow[] = [
  {
    side: 'device',
    feature: 'SAS token authentication (device and module keys, policy tokens)',
    support: all('yes'),
  },
  {
    side: 'device',
    feature: 'X.509 authentication (self-signed thumbprints, CA-signed)',
    support: all('yes'),
    note: 'CA certificates are registered with the emulator (`--ca-certificate`, `PUT /certificates/{name}`), not through ARM; modules: SAS only',
  },
  {
    side: 'device',
    feature: 'Telemetry (device-to-cloud messages, properties, batches)',
    support: all('yes'),
  },
  {
    side: 'device',
    feature: 'Direct methods (device and module)',
    support: { ...all('yes'), HTTPS: 'n/a' },
  },
  {
    side: 'device',
    feature: 'Cloud-to-device messages (complete, abandon, reject)',
    support: all('yes'),
    note: 'MQTT can only complete (PUBACK), as in IoT Hub',
  },
  {
    side: 'device',
    feature: 'Device twin (get, reported patch, desired updates)',
    support: { ...all('yes'), HTTPS: 'n/a' },
  },
  {
    side: 'device',
    feature: 'Modules (identities, telemetry, methods, module twins)',
    support: { ...all('yes'), AMQP: 'no', 'AMQP over WebSockets': 'no', HTTPS: 'n/a' },
  },
  {
    side: 'device',
    feature: 'File upload',
    support: { ...all('n/a'), HTTPS: 'no' },
    note: 'answered as a hub without a storage account answers',
  },
  {
    side: 'service',
    feature: 'Registry: devices, modules, bulk operations, statistics',
    support: { ...all('n/a'), HTTPS: 'yes' },
  },
  { side: 'service', feature: 'Invoke direct methods', support: { ...all('n/a'), HTTPS: 'yes' } },
  {
    side: 'service',
    feature: 'Twins: get, patch, replace (If-Match)',
    support: { ...all('n/a'), HTTPS: 'yes' },
  },
  { side: 'service', feature: 'Query language and jobs v2', support: { ...all('n/a'), HTTPS: 'yes' } },
  {
    side: 'service',
    feature: 'Cloud-to-device send, feedback, file notifications',
    support: { ...all('n/a'), AMQP: 'yes', 'AMQP over WebSockets': 'yes', HTTPS: 'yes' },
    note: 'HTTPS: purge of a device queue',
  },
  {
    side: 'service',
    feature: 'Event Hub-compatible endpoint (read telemetry, consumer groups, checkpoints)',
    support: { ...all('n/a'), AMQP: 'yes' },
    note: 'plain AMQP, and AMQP over TLS on request',
  },
];

const MARK: Record<Support, string> = { yes: 'yes', no: 'not yet', 'n/a': '—' };

/** The table as Markdown, as the README shows it. */
export function featureTableMarkdown(): string {
  const header = `| Side | Feature | ${TRANSPORTS.join(' | ')} |`;
  const rule = `|${' --- |'.repeat(TRANSPORTS.length + 2)}`;
  const rows = FEATURES.map((row) => {
    const cells = TRANSPORTS.map((transport) => MARK[row.support[transport]]);
    const feature = row.note === undefined ? row.feature : `${row.feature} (${row.note})`;
    return `| ${row.side} | ${feature} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}
