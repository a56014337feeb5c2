import { jsonForLog, PREVIEW_MAX_CHARS, safePreview } from '../../../../src/lib/log-text';
import {
  parseTelemetryEvent,
  type MalformedTelemetry,
  type TelemetryEvent,
} from '../../../../src/lib/telemetry-event';
import { batchBodies, eventMetadataAt } from '../../../../src/lib/trigger-metadata';

/** System properties of one event as the Functions host delivers them (keys after the Node library's camelCase). */
const systemProperties = (deviceId: string, sequenceNumber: number) => ({
  'iothub-connection-device-id': deviceId,
  'iothub-connection-auth-method':
    '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
  'iothub-connection-auth-generation-id': '638000000000000000',
  'iothub-enqueuedtime': '2025-03-01T10:00:00.5Z',
  'iothub-message-source': 'Telemetry',
  'x-opt-sequence-number': sequenceNumber,
  'x-opt-offset': String(sequenceNumber * 100),
  'x-opt-enqueued-time': '2025-03-01T10:00:00.6Z',
  'message-id': `m-${sequenceNumber}`,
  'content-type': 'application/json',
  'content-encoding': 'utf-8',
  sequenceNumber,
  offset: sequenceNumber * 100,
  offsetString: String(sequenceNumber * 100),
  partitionKey: null,
  enqueuedTimeUtc: '2025-03-01T10:00:00.6',
});

const batchMetadata = {
  systemPropertiesArray: [systemProperties('dev-a', 7), systemProperties('dev-b', 8)],
  propertiesArray: [{ temperatureAlert: 'false' }, { temperatureAlert: 'true', site: 'north' }],
  enqueuedTimeUtcArray: ['2025-03-01T10:00:01.25', '2025-03-01T10:00:02.5'],
  sequenceNumberArray: [7, 8],
  offsetArray: ['700', '800'],
  partitionKeyArray: [null, null],
  partitionContext: {
    fullyQualifiedNamespace: 'local-iothub.servicebus.windows.net',
    eventHubName: 'local-iothub',
    consumerGroup: '$Default',
    partitionId: '2',
  },
};

const parseAt = (body: unknown, index = 0, metadata: unknown = batchMetadata, batchSize = 2) =>
  parseTelemetryEvent(body, eventMetadataAt(metadata, index, batchSize));

function malformed(event: TelemetryEvent): MalformedTelemetry {
  if (event.kind !== 'malformed')
    throw new Error(`expected a malformed result, got ${JSON.stringify(event)}`);
  return event;
}

describe('parseTelemetryEvent', () => {
  it('reads a simulator message with its metadata', () => {
    expect(parseAt('{"temperature":21.3,"humidity":63.1}')).toEqual({
      kind: 'reading',
      deviceId: 'dev-a',
      source: 'Telemetry',
      enqueuedTime: '2025-03-01T10:00:01.250Z',
      partitionId: '2',
      sequenceNumber: 7,
      offset: '700',
      temperature: 21.3,
      humidity: 63.1,
      temperatureAlert: false,
      properties: {},
    });
    expect(parseAt('{"temperature":31.5,"humidity":70}', 1)).toMatchObject({
      deviceId: 'dev-b',
      sequenceNumber: 8,
      enqueuedTime: '2025-03-01T10:00:02.500Z',
      temperature: 31.5,
      humidity: 70,
      temperatureAlert: true,
      properties: { site: 'north' },
    });
  });

  it('reads bodies delivered as bytes or already parsed', () => {
    const json = '{"temperature":-4.5,"humidity":0}';
    const expected = { kind: 'reading', temperature: -4.5, humidity: 0, deviceId: 'dev-a' };
    expect(parseAt(Buffer.from(json))).toMatchObject(expected);
    expect(parseAt(new TextEncoder().encode(json))).toMatchObject(expected);
    expect(parseAt(new TextEncoder().encode(json).buffer)).toMatchObject(expected);
    expect(parseAt(JSON.parse(json))).toMatchObject(expected);
    expect(parseAt(`\ufeff${json}`)).toMatchObject(expected);
    expect(parseAt(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]))).toMatchObject(
      expected,
    );
  });

  it('leaves missing or wrongly typed readings null instead of failing', () => {
    expect(parseAt('{}')).toMatchObject({ kind: 'reading', temperature: null, humidity: null });
    expect(parseAt('{"temperature":22}')).toMatchObject({ temperature: 22, humidity: null });
    expect(parseAt('{"temperature":"21.3","humidity":true}')).toMatchObject({
      temperature: null,
      humidity: null,
    });
    expect(parseAt('{"temperature":null,"humidity":{"value":60}}')).toMatchObject({
      temperature: null,
      humidity: null,
    });
    expect(parseAt({ temperature: NaN, humidity: Infinity })).toMatchObject({
      temperature: null,
      humidity: null,
    });
    expect(parseAt('{"Temperature":25,"HUMIDITY":65}')).toMatchObject({ temperature: 25, humidity: 65 });
  });

  it('reports text that is not JSON with its size and a preview', () => {
    expect(parseAt('hello device')).toEqual(
      expect.objectContaining({ kind: 'malformed', reason: 'not-json', bytes: 12, preview: 'hello device' }),
    );
    expect(malformed(parseAt('{"temperature":21.3,'))).toMatchObject({ reason: 'not-json', bytes: 20 });
    expect(malformed(parseAt('température'))).toMatchObject({ bytes: 12, preview: 'température' });
    expect(malformed(parseAt(''))).toMatchObject({ reason: 'empty', bytes: 0, preview: '' });
    expect(malformed(parseAt(undefined))).toMatchObject({ reason: 'empty', bytes: 0 });
    expect(malformed(parseAt('   '))).toMatchObject({ reason: 'not-json', bytes: 3 });
    // The origin stays known, so that the bad message can be traced to its device.
    expect(parseAt('oops', 1)).toMatchObject({ deviceId: 'dev-b', sequenceNumber: 8, partitionId: '2' });
  });

  it('reports binary bodies as not UTF-8', () => {
    const event = malformed(parseAt(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x41])));
    expect(event).toMatchObject({ reason: 'not-utf8', bytes: 5 });
    expect(event.preview).toBe('\ufffd\ufffd\\u0000\\u0001A');
    const large = malformed(parseAt(Buffer.alloc(10_000, 0xff)));
    expect(large).toMatchObject({ reason: 'not-utf8', bytes: 10_000 });
    expect(large.preview.length).toBeLessThanOrEqual(PREVIEW_MAX_CHARS + 1);
    expect(large.preview.endsWith('…')).toBe(true);
  });

  it.each([
    ['[1,2,3]', 'array'],
    ['42', 'number'],
    ['"text"', 'string'],
    ['true', 'boolean'],
    ['null', 'null'],
  ] as const)('reports the JSON body %s as an unexpected shape (%s)', (body, shape) => {
    expect(malformed(parseAt(body))).toMatchObject({
      reason: 'unexpected-shape',
      shape,
      bytes: body.length,
      preview: safePreview(body),
    });
  });

  it('reports already-parsed values that are not objects as unexpected shapes', () => {
    expect(malformed(parseAt([{ temperature: 20 }]))).toMatchObject({
      reason: 'unexpected-shape',
      shape: 'array',
      preview: '[{\\"temperature\\":20}]',
    });
    expect(malformed(parseAt(21.5))).toMatchObject({ shape: 'number', bytes: 4, preview: '21.5' });
    expect(malformed(parseAt(null))).toMatchObject({ shape: 'null' });
    expect(malformed(parseAt(10n))).toMatchObject({ shape: 'other', preview: '10' });
  });

  it('bounds the preview of a huge body and never cuts inside an escape', () => {
    const huge = malformed(parseAt('x'.repeat(1_000_000)));
    expect(huge.bytes).toBe(1_000_000);
    expect(huge.preview).toBe(`${'x'.repeat(PREVIEW_MAX_CHARS)}…`);

    const controls = malformed(parseAt('\u0000'.repeat(10_000)));
    expect(controls.preview).toMatch(/^(\\u0000)+…$/);
    expect(controls.preview.length).toBeLessThanOrEqual(PREVIEW_MAX_CHARS + 1);

    // Exactly at the limit: nothing is cut, no ellipsis.
    expect(malformed(parseAt('y'.repeat(PREVIEW_MAX_CHARS))).preview).toBe('y'.repeat(PREVIEW_MAX_CHARS));
    expect(malformed(parseAt('y'.repeat(PREVIEW_MAX_CHARS + 1))).preview).toBe(
      `${'y'.repeat(PREVIEW_MAX_CHARS)}…`,
    );
  });

  it('escapes control, separator and direction characters in previews', () => {
    const text = 'a\nb\r\t"q"\\ \u001b[31m \u0085 \u2028 \u202e \ufeff end';
    const preview = malformed(parseAt(text)).preview;
    expect(preview).toBe('a\\nb\\r\\t\\"q\\"\\\\ \\u001b[31m \\u0085 \\u2028 \\u202e \\ufeff end');
    // The preview reads back as the original through a JSON string literal.
    expect(JSON.parse(`"${preview}"`)).toBe(text);
    // Lone surrogates are escaped; pairs (emoji) are kept.
    expect(safePreview('\ud83d \ud83d\ude00')).toBe('\\ud83d \ud83d\ude00');
  });

  it('redacts secrets from previews', () => {
    const preview = malformed(
      parseAt('HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=c2VjcmV0LWtleS0xMjM0NTY3ODkw=='),
    ).preview;
    expect(preview).toContain('SharedAccessKey=<redacted>');
    expect(preview).not.toContain('c2VjcmV0');
    expect(safePreview('SharedAccessSignature sr=a&sig=abc&se=1')).not.toContain('sig=abc');
    // A long secret is redacted whole, and the preview still shows that the body goes on.
    expect(safePreview(`sig=${'a'.repeat(5000)}`)).toBe('sig=<redacted>…');
  });

  it('reads the alert flag case-insensitively and keeps an unreadable one among the properties', () => {
    const withProperties = (properties: unknown) =>
      parseAt('{}', 0, { propertiesArray: [properties], systemPropertiesArray: [{}] }, 1);
    expect(withProperties({ temperatureAlert: 'TRUE' })).toMatchObject({
      temperatureAlert: true,
      properties: {},
    });
    expect(withProperties({ TemperatureAlert: ' false ' })).toMatchObject({
      temperatureAlert: false,
      properties: {},
    });
    expect(withProperties({ temperaturealert: true })).toMatchObject({ temperatureAlert: true });
    expect(withProperties({ temperatureAlert: 'yes', other: 1 })).toMatchObject({
      temperatureAlert: null,
      properties: { temperatureAlert: 'yes', other: 1 },
    });
    expect(withProperties({})).toMatchObject({ temperatureAlert: null, properties: {} });
    expect(withProperties('not an object')).toMatchObject({ temperatureAlert: null, properties: {} });
  });
});

describe('eventMetadataAt', () => {
  const body = '{"temperature":20,"humidity":60}';

  it('leaves an event without entries when the metadata arrays are shorter than the batch', () => {
    const short = { ...batchMetadata, systemPropertiesArray: [systemProperties('dev-a', 7)] };
    const event = parseAt(body, 1, short, 2);
    expect(event).toMatchObject({ kind: 'reading', temperature: 20, partitionId: '2', sequenceNumber: 8 });
    expect(event).not.toHaveProperty('deviceId');
    const none = parseAt(body, 5, batchMetadata, 6);
    expect(none).toEqual({
      kind: 'reading',
      partitionId: '2',
      temperature: 20,
      humidity: 60,
      temperatureAlert: null,
      properties: {},
    });
  });

  it('reads metadata keys and system property names whatever their case', () => {
    const metadata = {
      SystemPropertiesArray: [
        {
          'IoTHub-Connection-Device-Id': 'dev-x',
          'X-Opt-Sequence-Number': '41',
          'IOTHUB-ENQUEUEDTIME': '2025-03-01T10:00:00Z',
        },
      ],
      PropertiesArray: [{ TemperatureAlert: 'true' }],
      PartitionContext: { PartitionId: 3 },
    };
    expect(parseAt(body, 0, metadata, 1)).toMatchObject({
      deviceId: 'dev-x',
      sequenceNumber: 41,
      enqueuedTime: '2025-03-01T10:00:00.000Z',
      partitionId: '3',
      temperatureAlert: true,
    });
  });

  it('falls back to the system properties when the per-event arrays are missing', () => {
    const metadata = { systemPropertiesArray: [systemProperties('dev-a', 12)] };
    expect(parseAt(body, 0, metadata, 1)).toMatchObject({
      deviceId: 'dev-a',
      sequenceNumber: 12,
      offset: '1200',
      enqueuedTime: '2025-03-01T10:00:00.600Z',
    });
  });

  it('reads times without an offset as UTC, not as local time', () => {
    // Jest's sandboxed process.env cannot change the time zone, so Date.parse is made to read times without an
    // offset as a machine in New York does.
    const realParse = Date.parse.bind(Date);
    const parse = jest
      .spyOn(Date, 'parse')
      .mockImplementation((text) =>
        /(Z|[+-]\d{2}:\d{2})$/.test(text) ? realParse(text) : realParse(`${text}-05:00`),
      );
    try {
      expect(parseAt(body, 0, { enqueuedTimeUtcArray: ['2025-03-01T10:00:00'] }, 1)).toMatchObject({
        enqueuedTime: '2025-03-01T10:00:00.000Z',
      });
    } finally {
      parse.mockRestore();
    }
  });

  it('reads times as UTC and skips unusable ones', () => {
    const at = (enqueuedTimeUtc: unknown, system: Record<string, unknown> = {}) =>
      parseAt(body, 0, { enqueuedTimeUtcArray: [enqueuedTimeUtc], systemPropertiesArray: [system] }, 1);
    expect(at('2025-03-01T10:00:00.1234567')).toMatchObject({ enqueuedTime: '2025-03-01T10:00:00.123Z' });
    expect(at('2025-03-01T12:00:00+02:00')).toMatchObject({ enqueuedTime: '2025-03-01T10:00:00.000Z' });
    // .NET's DateTime.MinValue means "unknown": the hub's own time is used instead.
    expect(at('0001-01-01T00:00:00', { 'iothub-enqueuedtime': '2025-03-01T09:59:59Z' })).toMatchObject({
      enqueuedTime: '2025-03-01T09:59:59.000Z',
    });
    // The host sends times as JSON strings; a Date or epoch milliseconds is nothing it produces.
    for (const unusable of ['yesterday', '3/1/2025', '', 1e20, -1, 1740823200000, new Date(), null, {}]) {
      expect(at(unusable)).not.toHaveProperty('enqueuedTime');
    }
  });

  it('accepts sequence numbers as numbers or digit strings only', () => {
    const seq = (value: unknown) => parseAt(body, 0, { sequenceNumberArray: [value] }, 1);
    expect(seq(0)).toMatchObject({ sequenceNumber: 0 });
    expect(seq('123')).toMatchObject({ sequenceNumber: 123 });
    for (const unusable of [-1, 1.5, '12a', '-3', Number.MAX_SAFE_INTEGER + 2, 'x', null]) {
      expect(seq(unusable)).not.toHaveProperty('sequenceNumber');
    }
  });

  it('uses singular metadata (cardinality one) for a batch of one only', () => {
    const single = {
      systemProperties: systemProperties('dev-one', 3),
      properties: { temperatureAlert: 'true' },
      enqueuedTimeUtc: '2025-03-01T11:00:00Z',
      sequenceNumber: 3,
    };
    expect(parseAt(body, 0, single, 1)).toMatchObject({
      deviceId: 'dev-one',
      sequenceNumber: 3,
      enqueuedTime: '2025-03-01T11:00:00.000Z',
      temperatureAlert: true,
    });
    expect(parseAt(body, 0, single, 2)).not.toHaveProperty('deviceId');
  });

  it('survives metadata of any shape', () => {
    for (const metadata of [undefined, null, 'text', 42, [], { systemPropertiesArray: 'no' }]) {
      expect(parseAt(body, 0, metadata, 1)).toMatchObject({ kind: 'reading', temperature: 20 });
    }
  });
});

describe('never throws', () => {
  const hostile = new Proxy(
    {},
    {
      get() {
        throw new Error('get');
      },
      ownKeys() {
        throw new Error('ownKeys');
      },
      has() {
        throw new Error('has');
      },
      getPrototypeOf() {
        throw new Error('getPrototypeOf');
      },
      getOwnPropertyDescriptor() {
        throw new Error('getOwnPropertyDescriptor');
      },
    },
  );
  const circular: Record<string, unknown> = { temperature: 20 };
  circular.self = circular;

  it.each([
    ['a hostile proxy', hostile],
    ['a symbol', Symbol('s')],
    ['a function', () => 1],
    ['a circular object', circular],
    ['a DataView', new DataView(new ArrayBuffer(2))],
  ])('on %s as body or metadata', (_name, value) => {
    const fromBody = parseTelemetryEvent(value, eventMetadataAt(batchMetadata, 0, 1));
    expect(['reading', 'malformed']).toContain(fromBody.kind);
    const fromMetadata = parseTelemetryEvent('{"temperature":1}', eventMetadataAt(value, 0, 1));
    expect(fromMetadata).toMatchObject({ kind: 'reading', temperature: 1 });
    const batch = batchBodies(value, value);
    expect(batch).toHaveLength(1);
    expect(batch[0]).toBe(value);
  });

  it('reports an unreadable body as such', () => {
    expect(malformed(parseTelemetryEvent(hostile))).toMatchObject({ reason: 'unreadable', bytes: 0 });
    expect(parseTelemetryEvent(circular)).toMatchObject({ kind: 'reading', temperature: 20 });
  });
});

describe('batchBodies', () => {
  it('treats an array as the batch and anything else as a batch of one', () => {
    expect(batchBodies(['a', 'b'], batchMetadata)).toEqual(['a', 'b']);
    expect(batchBodies(['a', 'b'], undefined)).toEqual(['a', 'b']);
    expect(batchBodies([], {})).toEqual([]);
    expect(batchBodies('{"temperature":1}', batchMetadata)).toEqual(['{"temperature":1}']);
    expect(batchBodies(undefined, {})).toEqual([undefined]);
  });

  it('keeps a JSON array body whole when the metadata says cardinality one', () => {
    const body = [{ temperature: 1 }, { temperature: 2 }];
    expect(batchBodies(body, { systemProperties: {} })).toEqual([body]);
  });
});

describe('jsonForLog', () => {
  it('stays valid JSON while escaping what JSON leaves alone, and redacts secrets', () => {
    const properties = { note: 'a\u2028b\u202ec\u0085', conn: 'SharedAccessKey=abc123;x', n: 1 };
    const json = jsonForLog(properties, 1000);
    expect(json).not.toMatch(/[\u2028\u202e\u0085]/);
    expect(JSON.parse(json)).toEqual({
      note: 'a\u2028b\u202ec\u0085',
      conn: 'SharedAccessKey=<redacted>;x',
      n: 1,
    });
  });

  it('cuts long JSON', () => {
    const json = jsonForLog({ long: 'z'.repeat(5000) }, 100);
    expect(json).toHaveLength(101);
    expect(json.endsWith('…')).toBe(true);
  });
});
