import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PartitionOwnership } from '@azure/event-hubs';
import { FileCheckpointStore, toFileName } from '../../../../local/eventhub/file-checkpoint-store';
import { withFileLock } from '../../../../local/eventhub/file-lock';

const NS = 'localhost';
const HUB = 'local-iothub';
const CG = '$Default';

function claim(partitionId: string, ownerId: string, etag?: string): PartitionOwnership {
  return {
    fullyQualifiedNamespace: NS,
    eventHubName: HUB,
    consumerGroup: CG,
    partitionId,
    ownerId,
    ...(etag === undefined ? {} : { etag }),
  };
}

describe('the file checkpoint store', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'checkpoints-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('claims unowned partitions once, with etags, and lists them', async () => {
    const store = new FileCheckpointStore(dir);
    expect(await store.listOwnership(NS, HUB, CG)).toEqual([]);
    const claimed = await store.claimOwnership([claim('0', 'host-a'), claim('1', 'host-a')]);
    expect(claimed.map((o) => [o.partitionId, o.ownerId])).toEqual([
      ['0', 'host-a'],
      ['1', 'host-a'],
    ]);
    expect(
      claimed.every((o) => typeof o.etag === 'string' && typeof o.lastModifiedTimeInMs === 'number'),
    ).toBe(true);
    // Without an etag, a claim succeeds only while nobody owns the partition (blob "if-none-match: *").
    expect(await store.claimOwnership([claim('0', 'host-b')])).toEqual([]);
    const listed = await store.listOwnership(NS, HUB, CG);
    expect(listed).toEqual(claimed);
  });

  it('accepts a claim only with the current etag (optimistic concurrency)', async () => {
    const store = new FileCheckpointStore(dir);
    const [first] = await store.claimOwnership([claim('0', 'host-a')]);
    const [renewed] = await store.claimOwnership([claim('0', 'host-a', first?.etag)]);
    expect(renewed?.etag).toBeDefined();
    expect(renewed?.etag).not.toBe(first?.etag);
    // host-b read the ownership before the renewal: its etag is stale.
    expect(await store.claimOwnership([claim('0', 'host-b', first?.etag)])).toEqual([]);
    // A claim with an etag for a partition nobody has owned fails too.
    expect(await store.claimOwnership([claim('3', 'host-b', 'made-up')])).toEqual([]);
    const [taken] = await store.claimOwnership([claim('0', 'host-b', renewed?.etag)]);
    expect(taken?.ownerId).toBe('host-b');
    expect((await store.listOwnership(NS, HUB, CG))[0]?.ownerId).toBe('host-b');
  });

  it('lets exactly one of many simultaneous claims with the same etag win, across store instances', async () => {
    const [first] = await new FileCheckpointStore(dir).claimOwnership([claim('0', 'host-0')]);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        new FileCheckpointStore(dir).claimOwnership([claim('0', `host-${i + 1}`, first?.etag)]),
      ),
    );
    const winners = results.filter((r) => r.length === 1);
    expect(winners).toHaveLength(1);
    expect((await new FileCheckpointStore(dir).listOwnership(NS, HUB, CG))[0]?.ownerId).toBe(
      winners[0]?.[0]?.ownerId,
    );
  });

  it('keeps checkpoints per namespace, event hub and consumer group, across instances (a restart)', async () => {
    const store = new FileCheckpointStore(dir);
    await store.updateCheckpoint({
      fullyQualifiedNamespace: NS,
      eventHubName: HUB,
      consumerGroup: CG,
      partitionId: '0',
      sequenceNumber: 5,
      offset: '500',
    });
    await store.updateCheckpoint({
      fullyQualifiedNamespace: NS,
      eventHubName: HUB,
      consumerGroup: CG,
      partitionId: '0',
      sequenceNumber: 9,
      offset: '900',
    });
    await store.updateCheckpoint({
      fullyQualifiedNamespace: NS,
      eventHubName: HUB,
      consumerGroup: 'other',
      partitionId: '0',
      sequenceNumber: 1,
      offset: '100',
    });
    const restarted = new FileCheckpointStore(dir);
    expect(await restarted.listCheckpoints(NS, HUB, CG)).toEqual([
      {
        fullyQualifiedNamespace: NS,
        eventHubName: HUB,
        consumerGroup: CG,
        partitionId: '0',
        sequenceNumber: 9,
        offset: '900',
      },
    ]);
    // Event Hubs names are case-insensitive: so is the layout.
    expect(await restarted.listCheckpoints(NS, 'LOCAL-IOTHUB', '$default')).toHaveLength(1);
    expect(await restarted.listCheckpoints(NS, HUB, 'other')).toEqual([
      expect.objectContaining({ consumerGroup: 'other', sequenceNumber: 1, offset: '100' }),
    ]);
    expect(existsSync(join(dir, 'localhost', 'local-iothub', '%24default', 'checkpoint', '0.json'))).toBe(
      true,
    );
  });

  it('writes atomically: readers see whole records, no temporary files are left, and crash leftovers are ignored', async () => {
    const store = new FileCheckpointStore(dir);
    const folder = join(dir, 'localhost', 'local-iothub', '%24default', 'checkpoint');
    const writes = Array.from({ length: 50 }, (_, i) =>
      store.updateCheckpoint({
        fullyQualifiedNamespace: NS,
        eventHubName: HUB,
        consumerGroup: CG,
        partitionId: '1',
        sequenceNumber: i,
        offset: String(i * 10),
      }),
    );
    const reads: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) reads.push(store.listCheckpoints(NS, HUB, CG));
    await Promise.all(writes);
    for (const listed of (await Promise.all(reads)) as { sequenceNumber: number; offset: string }[][]) {
      for (const checkpoint of listed) expect(checkpoint.offset).toBe(String(checkpoint.sequenceNumber * 10));
    }
    expect(readdirSync(folder)).toEqual(['1.json']);
    const record = JSON.parse(readFileSync(join(folder, '1.json'), 'utf8')) as { sequenceNumber: number };
    expect(record.sequenceNumber).toBeGreaterThanOrEqual(0);

    // What a crash between write and rename leaves behind.
    writeFileSync(join(folder, '2.json.123.abc.tmp'), '{"partial');
    expect(await store.listCheckpoints(NS, HUB, CG)).toHaveLength(1);
  });

  it('names a corrupt file and refuses incomplete checkpoints', async () => {
    const store = new FileCheckpointStore(dir);
    const folder = join(dir, 'localhost', 'local-iothub', '%24default', 'ownership');
    await store.claimOwnership([claim('0', 'a')]);
    writeFileSync(join(folder, '0.json'), 'garbage');
    await expect(store.listOwnership(NS, HUB, CG)).rejects.toThrow(
      /0\.json is not valid JSON .* delete it to start over/,
    );
    await expect(
      store.updateCheckpoint({
        fullyQualifiedNamespace: NS,
        eventHubName: HUB,
        consumerGroup: CG,
        partitionId: '0',
        sequenceNumber: Number.NaN,
        offset: '1',
      }),
    ).rejects.toThrow(TypeError);
  });

  it('escapes names for the file system, injectively', () => {
    expect(toFileName('$Default')).toBe('%24default');
    expect(toFileName('my-ns.servicebus.windows.net')).toBe('my-ns.servicebus.windows.net');
    expect(toFileName('a/b')).toBe('a%2Fb');
    expect(toFileName('..')).not.toBe(toFileName('.'));
    expect(toFileName('..')).not.toMatch(/^\.+$/);
  });

  it('gives up on a lock held by someone else, and breaks a stale one', async () => {
    const target = join(dir, 'x.json');
    writeFileSync(`${target}.lock`, '');
    expect(await withFileLock(target, () => Promise.resolve(1), { timeoutMs: 50 })).toBeUndefined();
    expect(await withFileLock(target, () => Promise.resolve(2), { timeoutMs: 50, staleMs: -1 })).toEqual({
      value: 2,
    });
    expect(existsSync(`${target}.lock`)).toBe(false);
  });
});
