import {
  BindingError,
  shapeBatch,
  shapeSingle,
  type EventRecord,
  type PartitionInfo,
  type ShapeOptions,
} from '../../../../local/eventhub/eventhub-batch';

const partition: PartitionInfo = {
  fullyQualifiedNamespace: 'localhost',
  eventHubName: 'local-iothub',
  consumerGroup: '$Default',
  partitionId: '2',
};
const now = new Date('2024-05-01T10:00:00.000Z');
const options = (dataType: ShapeOptions['dataType']): ShapeOptions => ({
  functionName: 'telemetry',
  bindingName: 'eventHubTrigger1',
  dataType,
  now,
  randomGuid: '11111111-2222-3333-4444-555555555555',
});

function event(n: number, body: string): EventRecord {
  const enqueued = new Date(Date.UTC(2024, 4, 1, 9, 0, n));
  return {
    body: Buffer.from(body, 'utf8'),
    sequenceNumber: 40 + n,
    offset: String(1000 * n),
    enqueuedTimeUtc: enqueued,
    partitionKey: null,
    applicationProperties: { temperatureAlert: 'true', Kind: 'test' },
    messageAnnotations: {
      'iothub-connection-device-id': 'dev-1',
      'iothub-connection-auth-method':
        '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
      'iothub-connection-auth-generation-id': '638000000000000000',
      'iothub-enqueuedtime': enqueued,
      'iothub-message-source': 'Telemetry',
      'x-opt-sequence-number': 40 + n,
      'x-opt-offset': String(1000 * n),
      'x-opt-enqueued-time': enqueued,
    },
    amqpProperties: {
      'message-id': `m${n}`,
      'content-type': 'application/json',
      'content-encoding': 'utf-8',
    },
  };
}

describe('Event Hub batches as the Functions host hands them to a Node.js v4 function', () => {
  const events = [event(1, '{"temperature":21.5}'), event(2, 'not json'), event(3, '"just a string"')];

  it('gives cardinality many the bodies and arrays aligned with them, keys as @azure/functions casts them', () => {
    const { input, triggerMetadata } = shapeBatch(events, partition, options('string'));
    // dataType string: UTF-8 text, which @azure/functions then JSON-parses whenever it parses.
    expect(input).toEqual([{ temperature: 21.5 }, 'not json', 'just a string']);
    expect(Object.keys(triggerMetadata).sort()).toEqual([
      'enqueuedTimeUtcArray',
      'offsetArray',
      'partitionContext',
      'partitionKeyArray',
      'propertiesArray',
      'sequenceNumberArray',
      'sys',
      'systemPropertiesArray',
    ]);
    expect(triggerMetadata).toMatchObject({
      partitionContext: {
        fullyQualifiedNamespace: 'localhost',
        eventHubName: 'local-iothub',
        consumerGroup: '$Default',
        partitionId: '2',
      },
      partitionKeyArray: [null, null, null],
      // Offsets are strings in the host; as collection_string items the v4 library JSON-parses them.
      offsetArray: [1000, 2000, 3000],
      sequenceNumberArray: [41, 42, 43],
      enqueuedTimeUtcArray: [
        '2024-05-01T09:00:01.000Z',
        '2024-05-01T09:00:02.000Z',
        '2024-05-01T09:00:03.000Z',
      ],
      // First letters lower-cased at every depth, application properties included (Kind -> kind).
      propertiesArray: [0, 1, 2].map(() => ({ temperatureAlert: 'true', kind: 'test' })),
      sys: {
        methodName: 'telemetry',
        utcNow: '2024-05-01T10:00:00.000Z',
        randGuid: '11111111-2222-3333-4444-555555555555',
      },
    });
  });

  it('puts the IoT Hub annotations, x-opt-* and AMQP properties in systemProperties, unchanged', () => {
    const { triggerMetadata } = shapeBatch(events.slice(0, 1), partition, options('string'));
    expect(triggerMetadata.systemPropertiesArray).toEqual([
      {
        'iothub-connection-device-id': 'dev-1',
        'iothub-connection-auth-method':
          '{"scope":"device","type":"sas","issuer":"iothub","acceptingIpFilterRule":null}',
        'iothub-connection-auth-generation-id': '638000000000000000',
        'iothub-enqueuedtime': '2024-05-01T09:00:01.000Z',
        'iothub-message-source': 'Telemetry',
        'x-opt-sequence-number': 41,
        'x-opt-offset': '1000',
        'x-opt-enqueued-time': '2024-05-01T09:00:01.000Z',
        'message-id': 'm1',
        'content-type': 'application/json',
        'content-encoding': 'utf-8',
        sequenceNumber: 41,
        offset: 1000,
        partitionKey: null,
        enqueuedTimeUtc: '2024-05-01T09:00:01.000Z',
      },
    ]);
  });

  it('gives Buffers with dataType binary', () => {
    const { input } = shapeBatch(events, partition, options('binary'));
    expect(input).toEqual(events.map((e) => e.body));
    expect((input as Buffer[]).every((body) => Buffer.isBuffer(body))).toBe(true);
  });

  it('without dataType, fails the whole batch on a body that is not JSON, as the host does', () => {
    expect(() => shapeBatch(events, partition, options(undefined))).toThrow(BindingError);
    expect(() => shapeBatch(events, partition, options(undefined))).toThrow(
      /Exception binding parameter 'eventHubTrigger1'\. Binding parameters to complex objects .* sequence number 42.* add dataType: 'string'/,
    );
    const jsonOnly = [events[0], events[2]].filter((e) => e !== undefined);
    expect(shapeBatch(jsonOnly, partition, options(undefined)).input).toEqual([
      { temperature: 21.5 },
      'just a string',
    ]);
  });

  it('gives cardinality one the single body and singular metadata', () => {
    const single = event(2, 'not json');
    const { input, triggerMetadata } = shapeSingle(single, partition, options(undefined));
    expect(input).toBe('not json');
    expect(triggerMetadata).toMatchObject({
      partitionContext: { partitionId: '2' },
      partitionKey: null,
      offset: 2000,
      sequenceNumber: 42,
      enqueuedTimeUtc: '2024-05-01T09:00:02.000Z',
      properties: { temperatureAlert: 'true', kind: 'test' },
      systemProperties: { 'iothub-connection-device-id': 'dev-1', 'x-opt-sequence-number': 42 },
    });
    expect(shapeSingle(event(1, '{"a":1}'), partition, options('string')).input).toEqual({ a: 1 });
    expect(shapeSingle(event(1, '{"a":1}'), partition, options('binary')).input).toEqual(
      Buffer.from('{"a":1}'),
    );
  });

  it('serialises what the host sends as JSON like Json.NET: bytes as base64, times as ISO text', () => {
    const withBinary: EventRecord = {
      ...event(1, '{}'),
      applicationProperties: { raw: Buffer.from([1, 2, 3]), at: new Date('2024-01-01T00:00:00Z') },
    };
    expect(shapeBatch([withBinary], partition, options('string')).triggerMetadata.propertiesArray).toEqual([
      { raw: 'AQID', at: '2024-01-01T00:00:00.000Z' },
    ]);
  });
});
