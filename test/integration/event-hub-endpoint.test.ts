import {
  earliestEventPosition,
  EventHubConsumerClient,
  latestEventPosition,
  type ReceivedEventData,
} from '@azure/event-hubs';
import { Message, type Client as DeviceClient } from 'azure-iot-device';
import type { RunningEmulator } from 'iothub-emulator';
import { connectDevice, makeTempDir, policyKey, startTestEmulator } from '../helpers/emulator';
import { bodyOf, readPartition, sendTelemetry, type SentTelemetry } from '../helpers/event-hubs';

const DEVICES = ['dev-a', 'dev-b', 'dev-c'];

/** Which partition each device's events went to, from what was read. */
function partitionsOf(events: readonly ReceivedEventData[], partitionIdOf: Map<ReceivedEventData, string>) {
  const byDevice = new Map<string, Set<string>>();
  for (const event of events) {
    const deviceId = String(event.systemProperties?.['iothub-connection-device-id']);
    const set = byDevice.get(deviceId) ?? new Set<string>();
    set.add(partitionIdOf.get(event) ?? '?');
    byDevice.set(deviceId, set);
  }
  return byDevice;
}

describe('the Event Hub-compatible endpoint, read with @azure/event-hubs', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let client: EventHubConsumerClient;
  const devices: DeviceClient[] = [];
  const sent: SentTelemetry[] = [];
  /** Everything read from the earliest position of every partition, and the partition each came from. */
  const all: ReceivedEventData[] = [];
  const partitionIdOf = new Map<ReceivedEventData, string>();

  const withKey = (policy: string, key: string) =>
    emulator.info.eventHubConnectionString.replace(
      /SharedAccessKeyName=[^;]+;SharedAccessKey=[^;]+/,
      `SharedAccessKeyName=${policy};SharedAccessKey=${key}`,
    );

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: DEVICES, consumerGroups: ['functions'] });
    for (const deviceId of DEVICES.slice(0, 2)) {
      const device = await connectDevice(emulator, emulator.deviceConnectionString(deviceId));
      devices.push(device);
      sent.push(...(await sendTelemetry(device, deviceId, 6)));
    }
    client = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
    const partitionIds = await client.getPartitionIds();
    for (const partitionId of partitionIds) {
      const { lastEnqueuedSequenceNumber, isEmpty } = await client.getPartitionProperties(partitionId);
      if (isEmpty) continue;
      const { events } = await readPartition(
        client,
        partitionId,
        earliestEventPosition,
        lastEnqueuedSequenceNumber + 1,
      );
      for (const event of events) partitionIdOf.set(event, partitionId);
      all.push(...events);
    }
  });

  afterAll(async () => {
    await client.close();
    await Promise.all(devices.map((device) => device.close()));
    await emulator.stop();
    emulator.removeData();
  });

  it('answers hub and partition properties that add up to what was sent', async () => {
    const hub = await client.getEventHubProperties();
    expect(hub.name).toBe(emulator.info.eventHubName);
    expect(hub.partitionIds).toEqual(['0', '1', '2', '3']);
    let total = 0;
    for (const partitionId of hub.partitionIds) {
      const properties = await client.getPartitionProperties(partitionId);
      expect(properties.partitionId).toBe(partitionId);
      if (properties.isEmpty) {
        expect(properties.lastEnqueuedSequenceNumber).toBe(-1);
        continue;
      }
      expect(properties.beginningSequenceNumber).toBe(0);
      total += properties.lastEnqueuedSequenceNumber + 1;
      const last = all.filter((e) => partitionIdOf.get(e) === partitionId).at(-1);
      expect(properties.lastEnqueuedOffset).toBe(last?.offset);
      expect(properties.lastEnqueuedOnUtc.getTime()).toBe(last?.enqueuedTimeUtc.getTime());
    }
    expect(total).toBe(sent.length);
  });

  it('delivers every event once, with the body and every IoT Hub property intact', () => {
    expect(all.map((event) => String(event.getRawAmqpMessage().properties?.messageId)).sort()).toEqual(
      sent.map((s) => s.messageId).sort(),
    );
    const [event] = all.filter((e) => bodyOf(e).deviceId === 'dev-a' && bodyOf(e).n === 2);
    if (!event) throw new Error('dev-a message 2 was not read');
    expect(event.body).toEqual({ deviceId: 'dev-a', n: 2, temperature: 20.2 });
    expect(event.properties).toEqual({ temperatureAlert: 'true', note: 'hello & welcome 2' });
    expect(event.systemProperties).toMatchObject({
      'iothub-connection-device-id': 'dev-a',
      'iothub-message-source': 'Telemetry',
    });
    const authMethod = JSON.parse(
      String(event.systemProperties?.['iothub-connection-auth-method']),
    ) as unknown;
    expect(authMethod).toEqual({
      scope: 'device',
      type: 'sas',
      issuer: 'iothub',
      acceptingIpFilterRule: null,
    });
    expect(String(event.systemProperties?.['iothub-connection-auth-generation-id'])).toMatch(/^\d+$/);
    expect(event.systemProperties?.['iothub-enqueuedtime']).toBe(event.enqueuedTimeUtc.getTime());
    const raw = event.getRawAmqpMessage();
    expect(raw.properties).toMatchObject({
      messageId: 'dev-a-m2',
      correlationId: 'dev-a-c2',
      contentType: 'application/json',
      contentEncoding: 'utf-8',
    });
    expect(raw.messageAnnotations).toMatchObject({
      'x-opt-sequence-number': event.sequenceNumber,
      'x-opt-offset': event.offset,
    });
  });

  it("keeps a device's messages in one partition, in the order sent", () => {
    for (const [deviceId, partitions] of partitionsOf(all, partitionIdOf)) {
      expect([deviceId, partitions.size]).toEqual([deviceId, 1]);
      const order = all.filter((e) => bodyOf(e).deviceId === deviceId).map((e) => bodyOf(e).n);
      expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    }
  });

  describe('start positions', () => {
    let partitionId: string;
    let events: ReceivedEventData[];

    beforeAll(() => {
      events = all.filter((e) => bodyOf(e).deviceId === 'dev-a');
      partitionId = partitionIdOf.get(events[0] as ReceivedEventData) ?? '';
      events = all.filter((e) => partitionIdOf.get(e) === partitionId);
    });

    const firstFrom = async (position: Parameters<typeof readPartition>[2]) =>
      (await readPartition(client, partitionId, position, 1)).events[0]?.sequenceNumber;

    it('by sequence number, inclusive or not', async () => {
      const third = events[2] as ReceivedEventData;
      expect(await firstFrom({ sequenceNumber: third.sequenceNumber, isInclusive: true })).toBe(
        third.sequenceNumber,
      );
      expect(await firstFrom({ sequenceNumber: third.sequenceNumber })).toBe(third.sequenceNumber + 1);
    });

    it('by offset, inclusive or not', async () => {
      const third = events[2] as ReceivedEventData;
      expect(await firstFrom({ offset: third.offset, isInclusive: true })).toBe(third.sequenceNumber);
      expect(await firstFrom({ offset: third.offset })).toBe(third.sequenceNumber + 1);
    });

    it('by enqueued time (after it)', async () => {
      const third = events[2] as ReceivedEventData;
      const expected = events.find((e) => e.enqueuedTimeUtc.getTime() > third.enqueuedTimeUtc.getTime());
      if (!expected) throw new Error('all events share one millisecond');
      expect(await firstFrom({ enqueuedOn: third.enqueuedTimeUtc })).toBe(expected.sequenceNumber);
    });

    it('earliest, and latest (only events enqueued after the receiver opened)', async () => {
      expect(await firstFrom(earliestEventPosition)).toBe(0);
      const lastBefore = (await client.getPartitionProperties(partitionId)).lastEnqueuedSequenceNumber;
      const device = devices[0] as DeviceClient;
      const state = { sending: true };
      let n = 100;
      // The receiver's link opens asynchronously: keep sending until one arrives, then check what arrived.
      const sender = (async () => {
        while (state.sending) await sendTelemetry(device, 'dev-a', 1, n++);
      })();
      try {
        const { events: latest } = await readPartition(client, partitionId, latestEventPosition, 1);
        expect(latest[0]?.sequenceNumber).toBeGreaterThan(lastBefore);
      } finally {
        state.sending = false;
        await sender;
      }
    });
  });

  it('delivers a backlog in small batches, each event exactly once (credit flow)', async () => {
    const partitionId = partitionIdOf.get(all[0] as ReceivedEventData) ?? '0';
    const { lastEnqueuedSequenceNumber } = await client.getPartitionProperties(partitionId);
    const { events, contexts } = await readPartition(
      client,
      partitionId,
      earliestEventPosition,
      lastEnqueuedSequenceNumber + 1,
      { maxBatchSize: 2 },
    );
    expect(events.map((e) => e.sequenceNumber)).toEqual(
      Array.from({ length: lastEnqueuedSequenceNumber + 1 }, (_, i) => i),
    );
    expect(contexts.length).toBeGreaterThanOrEqual(Math.ceil(events.length / 2));
  });

  it('serves a backlog larger than the AMQP session window to a consumer with a deep prefetch', async () => {
    const device = devices[1] as DeviceClient;
    const count = 2600;
    let next = 0;
    // Ten messages in flight, as a busy device would have.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < count) {
          const n = next++;
          await device.sendEvent(new Message(JSON.stringify({ n })));
        }
      }),
    );
    const partitionId = partitionIdOf.get(
      all.find((e) => bodyOf(e).deviceId === 'dev-b') as ReceivedEventData,
    );
    const { lastEnqueuedSequenceNumber } = await client.getPartitionProperties(partitionId ?? '0');
    const deep = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
    let stalled = false;
    try {
      const { events } = await readPartition(
        deep,
        partitionId ?? '0',
        earliestEventPosition,
        lastEnqueuedSequenceNumber + 1,
        {
          maxBatchSize: 1000,
          prefetchCount: 3000,
          // A consumer that stalls (its event loop blocked) stops opening its session window, while the
          // emulator still holds 3000 credits: the emulator must stop at the window, not overflow it.
          processEventsHook: () => {
            if (stalled) return;
            stalled = true;
            Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
          },
        },
      );
      expect(events.map((e) => e.sequenceNumber)).toEqual(
        Array.from({ length: lastEnqueuedSequenceNumber + 1 }, (_, i) => i),
      );
    } finally {
      await deep.close();
    }
    expect((await client.getEventHubProperties()).name).toBe(emulator.info.eventHubName);
  });

  it('delivers an event with a long non-ASCII user id (binary on the wire)', async () => {
    const device = devices[0] as DeviceClient;
    const message = new Message(JSON.stringify({ deviceId: 'dev-a', n: 1000 }));
    message.userId = 'é'.repeat(130); // 130 characters, 260 bytes
    await device.sendEvent(message);
    const partitionId = partitionIdOf.get(
      all.find((e) => bodyOf(e).deviceId === 'dev-a') as ReceivedEventData,
    );
    const { lastEnqueuedSequenceNumber } = await client.getPartitionProperties(partitionId ?? '0');
    const { events } = await readPartition(
      client,
      partitionId ?? '0',
      {
        sequenceNumber: lastEnqueuedSequenceNumber,
        isInclusive: true,
      },
      1,
    );
    // The JS client does not surface user_id; reading the event at all is the point (rhea used to throw
    // encoding it, which ended the emulator).
    expect(events.map(bodyOf)).toEqual([{ deviceId: 'dev-a', n: 1000 }]);
    expect((await client.getEventHubProperties()).name).toBe(emulator.info.eventHubName);
  });

  it('reports the last enqueued event properties when asked (runtime metrics)', async () => {
    const partitionId = partitionIdOf.get(all[0] as ReceivedEventData) ?? '0';
    const properties = await client.getPartitionProperties(partitionId);
    const { contexts } = await readPartition(client, partitionId, earliestEventPosition, 1, {
      trackLastEnqueuedEventProperties: true,
    });
    const metrics = contexts[0]?.lastEnqueuedEventProperties;
    expect(metrics?.sequenceNumber).toBe(properties.lastEnqueuedSequenceNumber);
    expect(metrics?.offset).toBe(properties.lastEnqueuedOffset);
    expect(metrics?.enqueuedOn?.getTime()).toBe(properties.lastEnqueuedOnUtc.getTime());
    expect(metrics?.retrievedOn).toBeInstanceOf(Date);
  });

  it('serves configured consumer groups and refuses unknown ones', async () => {
    const partitionId = partitionIdOf.get(all[0] as ReceivedEventData) ?? '0';
    const functions = new EventHubConsumerClient('functions', emulator.info.eventHubConnectionString);
    const unknown = new EventHubConsumerClient('nope', emulator.info.eventHubConnectionString);
    try {
      const { events } = await readPartition(functions, partitionId, earliestEventPosition, 1);
      expect(events[0]?.sequenceNumber).toBe(0);
      await expect(readPartition(unknown, partitionId, earliestEventPosition, 1, {}, 3000)).rejects.toThrow(
        /consumer group "nope" does not exist/,
      );
    } finally {
      await Promise.all([functions.close(), unknown.close()]);
    }
  });

  it('refuses a wrong key, and policies without ServiceConnect', async () => {
    // The JS client retries UnauthorizedError (keys may have been rotated): no retries, to see the first answer.
    const noRetry = { retryOptions: { maxRetries: 0 } };
    const wrongKey = new EventHubConsumerClient(
      '$Default',
      withKey('service', Buffer.alloc(32).toString('base64')),
      noRetry,
    );
    const registryRead = new EventHubConsumerClient(
      '$Default',
      withKey('registryRead', policyKey(emulator, 'registryRead')),
      noRetry,
    );
    try {
      await expect(wrongKey.getEventHubProperties()).rejects.toMatchObject({
        code: 'UnauthorizedError',
        message: expect.stringMatching(/invalid signature/i) as unknown,
      });
      await expect(registryRead.getEventHubProperties()).rejects.toThrow(/lacks ServiceConnect/);
      await expect(readPartition(wrongKey, '0', earliestEventPosition, 1, {}, 3000)).rejects.toThrow(
        /invalid signature/i,
      );
    } finally {
      await Promise.all([wrongKey.close(), registryRead.close()]);
    }
    // iothubowner has ServiceConnect too.
    const owner = new EventHubConsumerClient(
      '$Default',
      withKey('iothubowner', policyKey(emulator, 'iothubowner')),
    );
    try {
      expect((await owner.getEventHubProperties()).name).toBe(emulator.info.eventHubName);
    } finally {
      await owner.close();
    }
  });

  it('lets a higher epoch (owner level) take over a partition and refuses a lower one', async () => {
    const partitionId = partitionIdOf.get(all[0] as ReceivedEventData) ?? '0';
    // One client subscribes to a partition once: each receiver gets its own client, as separate processes would.
    const clients = [1, 2, 3].map(
      () => new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString),
    );
    const [firstClient, secondClient, lowerClient] = clients as [
      EventHubConsumerClient,
      EventHubConsumerClient,
      EventHubConsumerClient,
    ];
    const firstErrors: string[] = [];
    let firstEvents = 0;
    const first = firstClient.subscribe(
      partitionId,
      {
        processEvents: (batch) => {
          firstEvents += batch.length;
          return Promise.resolve();
        },
        processError: (error) => {
          firstErrors.push(`${(error as { code?: string }).code ?? ''}: ${error.message}`);
          return Promise.resolve();
        },
      },
      { startPosition: earliestEventPosition, ownerLevel: 1, maxWaitTimeInSeconds: 1 },
    );
    let second: { close: () => Promise<void> } | undefined;
    try {
      await waitUntil(() => firstEvents > 0, 'the first receiver to read');
      let secondEvents = 0;
      second = secondClient.subscribe(
        partitionId,
        {
          processEvents: (batch) => {
            secondEvents += batch.length;
            return Promise.resolve();
          },
          processError: () => Promise.resolve(),
        },
        { startPosition: earliestEventPosition, ownerLevel: 2, maxWaitTimeInSeconds: 1 },
      );
      await waitUntil(() => firstErrors.length > 0 && secondEvents > 0, 'the take-over');
      expect(firstErrors[0]).toMatch(/^ReceiverDisconnectedError: .*higher epoch of '2'/);

      await expect(
        readPartition(lowerClient, partitionId, earliestEventPosition, 1, { ownerLevel: 1 }, 3000),
      ).rejects.toThrow(/higher epoch 2 already holds this partition; epoch 1 is refused/);
    } finally {
      await first.close();
      await second?.close();
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});

describe('durability of the Event Hub-compatible endpoint', () => {
  it('keeps events, sequence numbers and offsets across a restart, and continues numbering', async () => {
    const data = makeTempDir();
    let emulator = await startTestEmulator({ dataDir: data.path, devices: ['durable-1'] });
    try {
      let device = await connectDevice(emulator, emulator.deviceConnectionString('durable-1'));
      await sendTelemetry(device, 'durable-1', 5);
      await device.close();
      let client = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
      const partitionId = await findPartition(client);
      const before = (await readPartition(client, partitionId, earliestEventPosition, 5)).events;
      await client.close();
      await emulator.stop();

      emulator = await startTestEmulator({ dataDir: data.path });
      client = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
      try {
        const after = (await readPartition(client, partitionId, earliestEventPosition, 5)).events;
        const summary = (events: ReceivedEventData[]) =>
          events.map((e) => [e.sequenceNumber, e.offset, e.enqueuedTimeUtc.getTime(), e.body] as const);
        expect(summary(after)).toEqual(summary(before));

        device = await connectDevice(emulator, emulator.deviceConnectionString('durable-1'));
        await sendTelemetry(device, 'durable-1', 2, 5);
        await device.close();
        const more = (await readPartition(client, partitionId, { sequenceNumber: 4 }, 2)).events;
        expect(more.map((e) => [e.sequenceNumber, bodyOf(e).n])).toEqual([
          [5, 5],
          [6, 6],
        ]);
        expect(Number(more[0]?.offset)).toBeGreaterThan(Number(before.at(-1)?.offset));
      } finally {
        await client.close();
      }
    } finally {
      await emulator.stop();
      data.remove();
    }
  });
});

async function findPartition(client: EventHubConsumerClient): Promise<string> {
  for (const partitionId of await client.getPartitionIds()) {
    if (!(await client.getPartitionProperties(partitionId)).isEmpty) return partitionId;
  }
  throw new Error('no partition has events');
}

/** Waits for a condition driven by client callbacks; fails with `what` after the timeout. */
async function waitUntil(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
