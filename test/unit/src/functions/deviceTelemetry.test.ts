import { InvocationContext, type LogLevel } from '@azure/functions';
import { createDeviceTelemetryHandler, deviceTelemetry } from '../../../../src/functions/deviceTelemetry';
import { parseTelemetryEvent } from '../../../../src/lib/telemetry-event';

interface LogEntry {
  readonly level: LogLevel;
  readonly line: string;
}

const systemProperties = (deviceId: string, sequenceNumber: number) => ({
  'iothub-connection-device-id': deviceId,
  'iothub-connection-auth-method': '{"scope":"device","type":"sas","issuer":"iothub"}',
  'iothub-enqueuedtime': '2025-03-01T10:00:00Z',
  'iothub-message-source': 'Telemetry',
  'x-opt-sequence-number': sequenceNumber,
  'x-opt-offset': String(sequenceNumber * 10),
});

/** Trigger metadata for `count` events of one partition, as the host sends it with cardinality 'many'. */
function batchMetadata(devices: readonly string[], properties: readonly Record<string, unknown>[] = []) {
  return {
    systemPropertiesArray: devices.map((device, i) => systemProperties(device, 100 + i)),
    propertiesArray: devices.map((_, i) => properties[i] ?? { temperatureAlert: 'false' }),
    enqueuedTimeUtcArray: devices.map((_, i) => `2025-03-01T10:00:0${i}.5`),
    sequenceNumberArray: devices.map((_, i) => 100 + i),
    offsetArray: devices.map((_, i) => String((100 + i) * 10)),
    partitionKeyArray: devices.map(() => null),
    partitionContext: {
      fullyQualifiedNamespace: 'local-iothub.servicebus.windows.net',
      eventHubName: 'local-iothub',
      consumerGroup: '$Default',
      partitionId: '1',
    },
  };
}

function invoke(
  messages: unknown,
  triggerMetadata: Record<string, unknown>,
  handler = deviceTelemetry,
): LogEntry[] {
  const logs: LogEntry[] = [];
  const context = new InvocationContext({
    invocationId: 'a1b2c3',
    functionName: 'deviceTelemetry',
    triggerMetadata,
    logHandler: (level, ...args) => {
      logs.push({ level, line: args.map(String).join(' ') });
    },
  });
  handler(messages, context);
  return logs;
}

/** Splits a log line into its `key=value` fields; quoted values and the properties JSON are decoded. */
function fieldsOf(line: string): { prefix: string; fields: Record<string, unknown> } {
  const prefix = /^(Telemetry|Malformed telemetry) /.exec(line)?.[1];
  if (prefix === undefined) throw new Error(`not a telemetry line: ${line}`);
  const fields: Record<string, unknown> = {};
  const pattern = / (\w+)=("(?:[^"\\]|\\.)*"|\{.*$|\S+)/g;
  let consumed = prefix.length;
  for (const match of line.matchAll(pattern)) {
    const [whole, key = '', raw = ''] = match;
    expect(match.index).toBe(consumed);
    consumed += whole.length;
    fields[key] = raw.startsWith('"') || raw.startsWith('{') ? JSON.parse(raw) : raw;
  }
  expect(consumed).toBe(line.length);
  return { prefix, fields };
}

describe('deviceTelemetry', () => {
  it('logs one line per event and reports malformed events as such, without stopping the batch', () => {
    const messages = [
      '{"temperature":21.3,"humidity":63.1}',
      'not json at all',
      '[1,2,3]',
      '{"temperature":31,"humidity":"wet"}',
    ];
    const metadata = batchMetadata(
      ['dev-1', 'dev-2', 'dev-3', 'dev-4'],
      [{ temperatureAlert: 'false' }, {}, {}, { temperatureAlert: 'true', firmware: '1.2' }],
    );
    const logs = invoke(messages, metadata);

    expect(logs.map((entry) => entry.level)).toEqual(['information', 'warning', 'warning', 'information']);
    const parsed = logs.map((entry) => fieldsOf(entry.line));
    expect(parsed[0]).toEqual({
      prefix: 'Telemetry',
      fields: {
        device: 'dev-1',
        partition: '1',
        seq: '100',
        enqueued: '2025-03-01T10:00:00.500Z',
        temperature: '21.3',
        humidity: '63.1',
        temperatureAlert: 'false',
      },
    });
    expect(parsed[1]).toEqual({
      prefix: 'Malformed telemetry',
      fields: {
        device: 'dev-2',
        partition: '1',
        seq: '101',
        enqueued: '2025-03-01T10:00:01.500Z',
        reason: 'not-json',
        bytes: '15',
        preview: 'not json at all',
      },
    });
    expect(parsed[2]?.fields).toMatchObject({
      device: 'dev-3',
      reason: 'unexpected-shape',
      shape: 'array',
      bytes: '7',
      preview: '[1,2,3]',
    });
    expect(parsed[3]?.fields).toEqual({
      device: 'dev-4',
      partition: '1',
      seq: '103',
      enqueued: '2025-03-01T10:00:03.500Z',
      temperature: '31',
      humidity: '-',
      temperatureAlert: 'true',
      properties: { firmware: '1.2' },
    });
  });

  it('writes the documented line format', () => {
    const logs = invoke(
      ['{"temperature":21.3,"humidity":63.1}', '\u0000\u0001'],
      batchMetadata(['dev-1', 'dev-1']),
    );
    expect(logs.map((entry) => entry.line)).toEqual([
      'Telemetry device=dev-1 partition=1 seq=100 enqueued=2025-03-01T10:00:00.500Z temperature=21.3 humidity=63.1 temperatureAlert=false',
      'Malformed telemetry device=dev-1 partition=1 seq=101 enqueued=2025-03-01T10:00:01.500Z reason=not-json bytes=2 preview="\\u0000\\u0001"',
    ]);
  });

  it('keeps going when one event throws, and logs that event as an error', () => {
    let calls = 0;
    const handler = createDeviceTelemetryHandler((body, metadata) => {
      calls++;
      if (calls === 2) throw new Error('boom\nwith SharedAccessKey=c2VjcmV0');
      return parseTelemetryEvent(body, metadata);
    });
    const logs = invoke(
      ['{"temperature":1}', '{"temperature":2}', '{"temperature":3}'],
      batchMetadata(['a', 'b', 'c']),
      handler,
    );
    expect(logs.map((entry) => entry.level)).toEqual(['information', 'error', 'information']);
    expect(logs[1]?.line).toBe(
      'Telemetry event 2 of 3 could not be processed: boom\\nwith SharedAccessKey=<redacted>',
    );
    expect(fieldsOf(logs[2]?.line ?? '').fields).toMatchObject({ device: 'c', temperature: '3' });
  });

  it('treats a single body (cardinality one) as a batch of one', () => {
    const logs = invoke('{"temperature":22.5,"humidity":61}', {
      systemProperties: systemProperties('solo', 9),
      properties: { temperatureAlert: 'false' },
      enqueuedTimeUtc: '2025-03-01T10:00:09Z',
      sequenceNumber: 9,
      partitionContext: { partitionId: '0' },
    });
    expect(logs).toHaveLength(1);
    expect(fieldsOf(logs[0]?.line ?? '').fields).toEqual({
      device: 'solo',
      partition: '0',
      seq: '9',
      enqueued: '2025-03-01T10:00:09.000Z',
      temperature: '22.5',
      humidity: '61',
      temperatureAlert: 'false',
    });
  });

  it('logs events whose metadata is missing, with dashes for what is unknown', () => {
    const logs = invoke(['{"temperature":20}', Buffer.from([0xc3, 0x28])], {});
    expect(logs.map((entry) => entry.line)).toEqual([
      'Telemetry device=- partition=- seq=- enqueued=- temperature=20 humidity=- temperatureAlert=-',
      'Malformed telemetry device=- partition=- seq=- enqueued=- reason=not-utf8 bytes=2 preview="\ufffd("',
    ]);
  });

  it('logs nothing for an empty batch', () => {
    expect(invoke([], batchMetadata([]))).toEqual([]);
  });

  it('quotes unusual values and never logs secrets or raw control characters', () => {
    const metadata = {
      systemPropertiesArray: [
        {
          'iothub-connection-device-id': 'dev 1\u001b[2J',
          'iothub-connection-module-id': 'filter',
          'iothub-message-source': 'twinChangeEvents',
        },
      ],
      propertiesArray: [{ note: 'line\u2028break', connection: 'HostName=h;SharedAccessKey=c2VjcmV0' }],
    };
    const logs = invoke(['{"temperature":20,"humidity":50}'], metadata);
    expect(logs).toHaveLength(1);
    const line = logs[0]?.line ?? '';
    expect(line).not.toContain('c2VjcmV0');
    expect(line).not.toContain('\u001b');
    expect(line).not.toContain('\u2028');
    expect(fieldsOf(line).fields).toMatchObject({
      device: 'dev 1\u001b[2J',
      module: 'filter',
      source: 'twinChangeEvents',
      properties: { note: 'line\u2028break', connection: 'HostName=h;SharedAccessKey=<redacted>' },
    });
  });

  it('bounds the preview of a huge malformed body', () => {
    const logs = invoke(['x'.repeat(500_000)], batchMetadata(['big']));
    expect(logs).toHaveLength(1);
    expect(logs[0]?.level).toBe('warning');
    const { fields } = fieldsOf(logs[0]?.line ?? '');
    expect(fields).toMatchObject({ reason: 'not-json', bytes: '500000' });
    expect(String(fields.preview)).toMatch(/^x{80}…$/);
    expect(logs[0]?.line.length).toBeLessThan(300);
  });
});
