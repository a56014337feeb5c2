import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { readJsonFile, StateFileError, writeFileAtomic } from '../../../devkit/json-file';
import { PartitionLog } from './partition-log';
import type { NewTelemetry, TelemetryEvent } from './record';

export interface EventStoreOptions {
  /** The folder that holds one sub-folder per partition. */
  readonly dir: string;
  readonly partitionCount: number;
  readonly retentionMs: number;
  readonly maxPartitionBytes: number;
  readonly fsync?: boolean;
  readonly warn: (message: string) => void;
}

interface StoreLayout {
  readonly formatVersion: 1;
  readonly partitionCount: number;
}

interface EventStoreEvents {
  appended: [event: TelemetryEvent];
}

export class PartitionCountMismatchError extends Error {
  override readonly name = 'PartitionCountMismatchError';
}

const TRIM_INTERVAL_MS = 60_000;
const SEGMENT_BYTES = 16 * 1024 * 1024;

/**
 * The durable telemetry behind the Event Hub-compatible endpoint: one append-only log per partition. All
 * messages of a device go to one partition (by a stable hash of its id), in order.
 */
export class EventStore extends EventEmitter<EventStoreEvents> {
  private readonly trimTimer: NodeJS.Timeout;

  private constructor(
    readonly partitions: readonly PartitionLog[],
    warn: (message: string) => void,
  ) {
    super();
    // A failed trim (a file that cannot be deleted) is reported; unhandled, its rejection would end the process.
    const trim = () =>
      this.trim().catch((error: unknown) => {
        warn(`Could not trim the telemetry log: ${(error as Error).message}`);
      });
    this.trimTimer = setInterval(() => void trim(), TRIM_INTERVAL_MS).unref();
  }

  static async open(options: EventStoreOptions): Promise<EventStore> {
    await mkdir(options.dir, { recursive: true });
    await checkLayout(options.dir, options.partitionCount);
    const forward = (event: TelemetryEvent) => store.emit('appended', event);
    const partitions = await Promise.all(
      Array.from({ length: options.partitionCount }, (_, index) =>
        PartitionLog.open(
          {
            dir: join(options.dir, String(index)),
            partitionId: String(index),
            retentionMs: options.retentionMs,
            maxBytes: options.maxPartitionBytes,
            // A sixteenth of the cap, so that the cap is kept within a few percent; 16 MiB at the default cap.
            segmentBytes: Math.min(
              SEGMENT_BYTES,
              Math.max(64 * 1024, Math.floor(options.maxPartitionBytes / 16)),
            ),
            // Segments also close with age, so that retention trims in steps of a 24th of it.
            segmentMaxAgeMs: Math.max(1000, options.retentionMs / 24),
            fsync: options.fsync ?? true,
            cacheEvents: 10_000,
            warn: options.warn,
          },
          forward,
        ),
      ),
    );
    const store: EventStore = new EventStore(partitions, options.warn);
    await store.trim();
    return store;
  }

  get partitionCount(): number {
    return this.partitions.length;
  }

  partitionOf(deviceId: string): number {
    // FNV-1a: stable across restarts and processes, unlike anything seeded.
    let hash = 0x811c9dc5;
    for (let i = 0; i < deviceId.length; i++) {
      hash ^= deviceId.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % this.partitions.length;
  }

  partition(partitionId: string): PartitionLog | undefined {
    if (!/^(0|[1-9]\d?)$/.test(partitionId)) return undefined;
    return this.partitions[Number(partitionId)];
  }

  /** Appends to the device's partition; resolves once the event is on disk. */
  append(message: NewTelemetry): Promise<TelemetryEvent> {
    const partition = this.partitions[this.partitionOf(message.deviceId)];
    if (!partition) return Promise.reject(new Error('No partition'));
    return partition.append(message);
  }

  async trim(nowMs = Date.now()): Promise<void> {
    await Promise.all(this.partitions.map((partition) => partition.trim(nowMs)));
  }

  async close(): Promise<void> {
    clearInterval(this.trimTimer);
    await Promise.all(this.partitions.map((partition) => partition.close()));
  }
}

/** Partitioning is by hash modulo the count: a different count would scatter devices across partitions. */
async function checkLayout(dir: string, partitionCount: number): Promise<void> {
  const path = join(dir, 'layout.json');
  const existing = await readJsonFile(
    path,
    'the partition count of the telemetry in this folder (deleting it is safe: it is written again at start)',
  );
  if (existing !== undefined && !isLayout(existing)) {
    throw new StateFileError(
      path,
      `${path} is not a telemetry layout ({"formatVersion":1,"partitionCount":n}); delete it to start over: it is ` +
        'written again at start, and no telemetry is lost.',
    );
  }
  if (existing && existing.partitionCount !== partitionCount) {
    throw new PartitionCountMismatchError(
      `The data directory holds telemetry in ${existing.partitionCount} partitions, not ${partitionCount}. ` +
        `Start with --partitions ${existing.partitionCount}, or with --reset to discard it.`,
    );
  }
  if (!existing) {
    const layout: StoreLayout = { formatVersion: 1, partitionCount };
    await writeFileAtomic(path, JSON.stringify(layout, null, 2), 0o644);
  }
}

function isLayout(value: unknown): value is StoreLayout {
  const layout = value as Partial<StoreLayout> | null;
  return (
    typeof layout === 'object' &&
    layout !== null &&
    layout.formatVersion === 1 &&
    Number.isInteger(layout.partitionCount)
  );
}
