import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventHubConsumerClient, earliestEventPosition, type ReceivedEventData } from '@azure/event-hubs';
import type { MqttClient } from 'mqtt';
import type { RunningEmulator } from 'iothub-emulator';
import { makeTempDir, startTestEmulator } from '../helpers/emulator';
import { deviceToken, rawConnect, serviceCall } from '../helpers/raw-clients';

const DEVICES = ['crash-a', 'crash-b', 'crash-c'];
const CYCLES = 3;
/**
 * Acknowledged events per device, and devices created, before each kill. 400 events of 1.5 KB from 3 devices fill
 * more than two 1 MiB segments per partition over the cycles whatever the machine's speed, so that rollovers happen
 * without counting on the events sent after the count (their number depends on timing).
 */
const EVENTS_PER_CYCLE = 400;
const DEVICES_PER_CYCLE = 15;
/** Events each device may send after its count, while the offsets are read and until the kill. */
const EXTRA_EVENTS = 1000;

interface Seen {
  readonly sequenceNumber: number;
  readonly messageId: string;
}

/**
 * Kills a real emulator (SIGKILL) while devices send telemetry and a back end creates devices, restarts it on the
 * same data directory, and checks after each restart what IoT Hub promises: every event acknowledged (PUBACK) and
 * every device created (200) is there, sequence numbers continue without a gap, and offsets read before the kill
 * read the same events after it. Small segments (16 MiB partitions, 1 MiB segments) make rollovers happen; the load stays under the cap, so that
 * nothing is trimmed.
 */
describe('crash safety: SIGKILL under telemetry and registry load', () => {
  const data = makeTempDir('iothub-crash-');
  afterAll(() => {
    data.remove();
  });

  it(`keeps everything acknowledged across ${CYCLES} kill and restart cycles`, async () => {
    const acknowledged = new Set<string>();
    const created = new Set<string>();
    /** partition -> offset -> what was read there before a kill. */
    const readBefore = new Map<string, Map<string, Seen>>();

    for (let cycle = 1; cycle <= CYCLES; cycle++) {
      const emulator = await startTestEmulator({
        dataDir: data.path,
        devices: DEVICES,
        partitionCount: 2,
        maxPartitionMiB: 16,
      });
      let stopLoad: () => void = () => undefined;
      try {
        await checkEverything(emulator, acknowledged, created, readBefore);
        stopLoad = await underLoad(emulator, cycle, acknowledged, created);
        // Read while the devices keep sending, then kill in the middle of their writes.
        await rememberOffsets(emulator, readBefore);
      } finally {
        await emulator.kill();
        stopLoad();
      }
    }
    const emulator = await startTestEmulator({ dataDir: data.path, partitionCount: 2, maxPartitionMiB: 16 });
    try {
      await checkEverything(emulator, acknowledged, created, readBefore);
      expect(acknowledged.size).toBeGreaterThanOrEqual(CYCLES * DEVICES.length * EVENTS_PER_CYCLE);
      expect(created.size).toBeGreaterThanOrEqual(CYCLES * DEVICES_PER_CYCLE);
      // The load rolled segments over: the kills could land in a rollover.
      const segments = readdirSync(join(data.path, 'events')).flatMap((entry) =>
        /^\d+$/.test(entry) ? readdirSync(join(data.path, 'events', entry)) : [],
      );
      expect(segments.length).toBeGreaterThan(2 * 2);
    } finally {
      await emulator.stop();
    }
  });
});

/**
 * Devices publish (QoS 1) and a back end creates devices; resolves once each reached its count, while the devices
 * keep sending until the returned function is called (after the kill, so that it lands in the middle of writes).
 */
async function underLoad(
  emulator: RunningEmulator,
  cycle: number,
  acknowledged: Set<string>,
  created: Set<string>,
): Promise<() => void> {
  let stop = false;
  const body = Buffer.alloc(1500, 0x61);
  const clients: MqttClient[] = [];
  const senders = DEVICES.map(async (deviceId) => {
    const client = await rawConnect(emulator, deviceId, deviceToken(emulator, deviceId));
    clients.push(client);
    let sent = 0;
    const enough = new Promise<void>((resolve) => {
      void (async () => {
        for (let n = 0; !stop && n < EVENTS_PER_CYCLE + EXTRA_EVENTS; n++) {
          const messageId = `c${cycle}-${deviceId}-${n}`;
          try {
            await client.publishAsync(`devices/${deviceId}/messages/events/%24.mid=${messageId}`, body, {
              qos: 1,
            });
          } catch {
            return;
          }
          acknowledged.add(messageId);
          if (++sent === EVENTS_PER_CYCLE) resolve();
        }
      })();
    });
    await enough;
  });
  const registry = (async () => {
    for (let n = 0; n < DEVICES_PER_CYCLE; n++) {
      const deviceId = `created-${cycle}-${n}`;
      const answer = await serviceCall(emulator, 'PUT', `/devices/${deviceId}?api-version=2021-04-12`, {
        body: { deviceId },
      });
      expect(answer.status).toBe(200);
      created.add(deviceId);
    }
  })();
  await Promise.all([...senders, registry]);
  // One more write of each kind in flight when the kill comes.
  void serviceCall(emulator, 'PUT', `/devices/in-flight-${cycle}?api-version=2021-04-12`, { body: {} }).then(
    (answer) => {
      if (answer.status === 200) created.add(`in-flight-${cycle}`);
    },
    () => undefined,
  );
  return () => {
    stop = true;
    for (const client of clients) client.end(true);
  };
}

async function readAll(emulator: RunningEmulator): Promise<Map<string, ReceivedEventData[]>> {
  const client = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
  const partitions = new Map<string, ReceivedEventData[]>();
  try {
    for (const partitionId of await client.getPartitionIds()) {
      const properties = await client.getPartitionProperties(partitionId);
      const expected = properties.isEmpty
        ? 0
        : properties.lastEnqueuedSequenceNumber - properties.beginningSequenceNumber + 1;
      const events: ReceivedEventData[] = [];
      if (expected > 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            reject(new Error(`read ${events.length} of ${expected} events of partition ${partitionId}`));
          }, 30_000);
          const subscription = client.subscribe(
            partitionId,
            {
              processEvents: (batch) => {
                events.push(...batch);
                if (events.length >= expected) {
                  clearTimeout(timer);
                  void subscription.close().then(resolve);
                }
                return Promise.resolve();
              },
              processError: () => Promise.resolve(),
            },
            { startPosition: earliestEventPosition, maxBatchSize: 500, maxWaitTimeInSeconds: 1 },
          );
        });
      }
      partitions.set(partitionId, events);
    }
  } finally {
    await client.close();
  }
  return partitions;
}

async function checkEverything(
  emulator: RunningEmulator,
  acknowledged: ReadonlySet<string>,
  created: ReadonlySet<string>,
  readBefore: ReadonlyMap<string, ReadonlyMap<string, Seen>>,
): Promise<void> {
  const partitions = await readAll(emulator);
  const present = new Set<string>();
  for (const [partitionId, events] of partitions) {
    // Numbering without a gap: each event's sequence number is the one before it plus one.
    const numbers = events.map((event) => event.sequenceNumber);
    const first = numbers[0] ?? 0;
    expect(numbers).toEqual(numbers.map((_, index) => first + index));
    for (const event of events) present.add(String(event.messageId));
    // Offsets read before a kill read the same events after it.
    const byOffset = new Map(events.map((event) => [event.offset, event]));
    for (const [offset, seen] of readBefore.get(partitionId) ?? []) {
      expect({
        offset,
        sequenceNumber: byOffset.get(offset)?.sequenceNumber,
        messageId: byOffset.get(offset)?.messageId,
      }).toEqual({
        offset,
        ...seen,
      });
    }
  }
  const lost = [...acknowledged].filter((messageId) => !present.has(messageId));
  expect(lost).toEqual([]);
  const listed = await serviceCall(emulator, 'GET', '/devices?api-version=2021-04-12');
  const ids = new Set((JSON.parse(listed.body) as { deviceId: string }[]).map((device) => device.deviceId));
  expect([...created].filter((deviceId) => !ids.has(deviceId))).toEqual([]);
}

async function rememberOffsets(
  emulator: RunningEmulator,
  readBefore: Map<string, Map<string, Seen>>,
): Promise<void> {
  for (const [partitionId, events] of await readAll(emulator)) {
    const remembered = readBefore.get(partitionId) ?? new Map<string, Seen>();
    // Every 25th event, and the last one read.
    events.forEach((event, index) => {
      if (index % 25 === 0 || index === events.length - 1) {
        remembered.set(event.offset, {
          sequenceNumber: event.sequenceNumber,
          messageId: String(event.messageId),
        });
      }
    });
    readBefore.set(partitionId, remembered);
  }
}

describe('crash safety: a state file that cannot be read', () => {
  it.each([
    ['state.json', /state\.json is empty; it holds the device registry and the shared access policy keys/],
    [join('events', 'layout.json'), /layout\.json is empty; it holds the partition count/],
  ])(
    'stops the start on an empty %s, says which file and what to do, and changes nothing',
    async (file, says) => {
      const data = makeTempDir('iothub-state-');
      try {
        const first = await startTestEmulator({ dataDir: data.path, devices: ['kept-device'] });
        await first.stop();
        const ca = readFileSync(join(data.path, 'certs', 'ca.pem'), 'utf8');
        writeFileSync(join(data.path, file), '');
        const attempt = await startTestEmulator({ dataDir: data.path }).catch(
          (error: unknown) => error as Error,
        );
        expect(attempt).toBeInstanceOf(Error);
        expect((attempt as Error).message).toMatch(says);
        expect((attempt as Error).message).toMatch(/delete it to start over/);
        // What is good is left alone: the CA users trust, and the damaged file itself.
        expect(readFileSync(join(data.path, 'certs', 'ca.pem'), 'utf8')).toBe(ca);
        expect(readFileSync(join(data.path, file), 'utf8')).toBe('');
      } finally {
        data.remove();
      }
    },
  );
});
