import { StateFileError } from '../../../../../devkit/json-file';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EventStore,
  PartitionCountMismatchError,
  type EventStoreOptions,
} from '../../../../hub/telemetry/event-store';
import type { NewTelemetry, TelemetryEvent } from '../../../../hub/telemetry/record';

let dir: string;
const opened: EventStore[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'event-store-'));
});

afterEach(async () => {
  jest.useRealTimers();
  await Promise.allSettled(opened.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function openStore(overrides: Partial<EventStoreOptions> = {}): Promise<EventStore> {
  const store = await EventStore.open({
    dir,
    partitionCount: 4,
    retentionMs: 24 * 3600_000,
    maxPartitionBytes: 1024 ** 3,
    fsync: false,
    warn: () => undefined,
    ...overrides,
  });
  opened.push(store);
  return store;
}

function message(deviceId: string, index: number): NewTelemetry {
  return {
    deviceId,
    authGenerationId: 'g',
    body: Buffer.from(`${deviceId}:${index}`),
    systemProperties: {},
    applicationProperties: { index: String(index) },
  };
}

/** 32-bit FNV-1a of UTF-8 bytes, written independently of the code under test. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Number((BigInt(hash) * 0x01000193n) & 0xffffffffn);
  }
  return hash;
}

describe('EventStore', () => {
  it('creates one partition folder per partition and records the partition count', async () => {
    const store = await openStore();
    expect(store.partitionCount).toBe(4);
    expect(store.partitions.map((partition) => partition.partitionId)).toEqual(['0', '1', '2', '3']);
    for (const id of ['0', '1', '2', '3']) expect(existsSync(join(dir, id))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'layout.json'), 'utf8'))).toEqual({
      formatVersion: 1,
      partitionCount: 4,
    });
  });

  it('looks partitions up by their id only', async () => {
    const store = await openStore();
    expect(store.partition('0')).toBe(store.partitions[0]);
    expect(store.partition('3')).toBe(store.partitions[3]);
    for (const id of ['4', '-1', 'x', '', '1.0', '100']) expect(store.partition(id)).toBeUndefined();
  });

  it("appends each device's messages to its partition, in order, and announces them", async () => {
    const store = await openStore();
    const announced: TelemetryEvent[] = [];
    store.on('appended', (event) => announced.push(event));
    const devices = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot'];
    const events = await Promise.all(
      Array.from({ length: 60 }, (_, i) => {
        const device = devices[i % devices.length] ?? 'alpha';
        return store.append(message(device, i));
      }),
    );
    expect(announced).toHaveLength(60);
    expect(new Set(announced)).toEqual(new Set(events));
    for (const device of devices) {
      const partitionId = String(store.partitionOf(device));
      const mine = events.filter((event) => event.deviceId === device);
      expect(new Set(mine.map((event) => event.partitionId))).toEqual(new Set([partitionId]));
      const indexes = mine.map((event) => Number(event.applicationProperties.index));
      expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
      const stored = store.partition(partitionId)?.read(0, 1000) ?? [];
      expect(stored.filter((event) => event.deviceId === device)).toEqual(mine);
    }
  });

  it('keeps the events across a restart with the same partition count', async () => {
    const store = await openStore();
    const event = await store.append(message('dev-1', 0));
    await store.close();
    const reopened = await openStore();
    expect(reopened.partition(event.partitionId)?.read(0, 10)).toEqual([event]);
    expect((await reopened.append(message('dev-1', 1))).sequenceNumber).toBe(event.sequenceNumber + 1);
  });

  it('refuses to open data written with another partition count, and says what to do', async () => {
    const store = await openStore({ partitionCount: 4 });
    await store.close();
    const attempt = openStore({ partitionCount: 2 });
    await expect(attempt).rejects.toBeInstanceOf(PartitionCountMismatchError);
    await expect(attempt).rejects.toThrow(
      'The data directory holds telemetry in 4 partitions, not 2. ' +
        'Start with --partitions 4, or with --reset to discard it.',
    );
    await expect(attempt).rejects.toMatchObject({ name: 'PartitionCountMismatchError' });
    // Nothing was changed: the right count still opens.
    expect(JSON.parse(readFileSync(join(dir, 'layout.json'), 'utf8'))).toMatchObject({ partitionCount: 4 });
    expect(readdirSync(dir).sort()).toEqual(['0', '1', '2', '3', 'layout.json']);
    await expect(openStore({ partitionCount: 4 })).resolves.toBeInstanceOf(EventStore);
  });

  it.each([
    ['empty (a kill while the first start wrote it, before writes were atomic)', '', /layout\.json is empty/],
    ['not JSON', '{ not json', /layout\.json is not valid JSON/],
    ['JSON of another shape', '[4]', /layout\.json is not a telemetry layout/],
  ])(
    'refuses a layout.json that is %s, naming it and saying what to do, and changes nothing',
    async (_w, text, says) => {
      mkdirSync(join(dir, '0'), { recursive: true });
      writeFileSync(join(dir, '0', '0000000000000000-0000000000000000.log'), '');
      writeFileSync(join(dir, 'layout.json'), text);
      const failure = (await openStore().catch((error: unknown) => error)) as Error;
      expect(failure).toBeInstanceOf(StateFileError);
      expect(failure.message).toMatch(says);
      expect(failure.message).toContain(join(dir, 'layout.json'));
      expect(failure.message).toMatch(/delete it to start over/);
      expect(readFileSync(join(dir, 'layout.json'), 'utf8')).toBe(text);
      expect(readdirSync(join(dir, '0'))).toEqual(['0000000000000000-0000000000000000.log']);
    },
  );

  it('assigns partitions by 32-bit FNV-1a of the device id, stably across instances', async () => {
    const four = await openStore({ partitionCount: 4 });
    // Published FNV-1a test vectors: "" 0x811c9dc5, "a" 0xe40c292c, "foobar" 0xbf9cf968.
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
    const ids = ['a', 'foobar', 'dev1', 'thermostat-42', 'Device.With-Chars_09'];
    for (const id of ids) expect(four.partitionOf(id)).toBe(fnv1a(id) % 4);
    const mapping = ids.map((id) => four.partitionOf(id));
    await four.close();

    const again = await openStore({ partitionCount: 4 });
    expect(ids.map((id) => again.partitionOf(id))).toEqual(mapping);

    const otherDir = mkdtempSync(join(tmpdir(), 'event-store-3-'));
    try {
      const three = await EventStore.open({
        dir: otherDir,
        partitionCount: 3,
        retentionMs: 3600_000,
        maxPartitionBytes: 1024 ** 2,
        fsync: false,
        warn: () => undefined,
      });
      opened.push(three);
      for (const id of ids) expect(three.partitionOf(id)).toBe(fnv1a(id) % 3);
      await three.close();
    } finally {
      rmSync(otherDir, { recursive: true, force: true });
    }
  });

  it.each([
    [4, Array.from({ length: 1000 }, (_, i) => `device-${i}`)],
    [4, Array.from({ length: 1000 }, (_, i) => `sensor-${String(i).padStart(4, '0')}.building-${i % 7}`)],
    [32, Array.from({ length: 3200 }, (_, i) => `device-${i}`)],
  ])('spreads devices evenly over %i partitions', async (partitionCount, ids) => {
    const store = await openStore({ partitionCount });
    const counts = new Array<number>(partitionCount).fill(0);
    for (const id of ids) {
      const partition = store.partitionOf(id);
      expect(Number.isInteger(partition) && partition >= 0 && partition < partitionCount).toBe(true);
      counts[partition] = (counts[partition] ?? 0) + 1;
    }
    const fair = ids.length / partitionCount;
    for (const count of counts) {
      expect(count).toBeGreaterThan(fair * 0.6);
      expect(count).toBeLessThan(fair * 1.4);
    }
  });

  it('trims every partition by retention', async () => {
    const store = await openStore({ retentionMs: 60_000 });
    const events = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id, i) => store.append(message(id, i))));
    await store.trim(Date.now() + 60_001);
    for (const event of events) {
      expect(store.partition(event.partitionId)?.properties()).toMatchObject({ isEmpty: true });
      expect(store.partition(event.partitionId)?.read(0, 10)).toEqual([]);
    }
    await store.trim(Date.now());
  });

  it('warns, and does not crash, when its periodic trim fails', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    let reportWarning: (message: string) => void = () => undefined;
    const warned = new Promise<string>((resolve) => {
      reportWarning = resolve;
    });
    const store = await openStore({
      maxPartitionBytes: 1,
      warn: (text) => {
        reportWarning(text);
      },
    });
    const event = await store.append(message('dev-1', 0));
    // The partition is over its size cap, so the next trim deletes its segment: make that fail.
    const partitionDir = join(dir, event.partitionId);
    const [segment] = readdirSync(partitionDir);
    if (segment === undefined) throw new Error('no segment');
    rmSync(join(partitionDir, segment));
    mkdirSync(join(partitionDir, segment, 'not-empty'), { recursive: true });

    jest.advanceTimersByTime(60_000);
    expect(await warned).toMatch(/trim/i);
  }, 10_000);
});
