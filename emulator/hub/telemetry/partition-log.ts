import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeRecord, type NewTelemetry, type TelemetryEvent } from './record';
import {
  createSegment,
  dropWritten,
  lastIndexEntryAtOrBefore,
  recoverSegment,
  scanSegment,
  Segment,
  SEGMENT_NAME,
  type IndexEntry,
} from './segment';

export interface PartitionLogOptions {
  readonly dir: string;
  readonly partitionId: string;
  /** Events older than this are trimmed (whole segments at a time). */
  readonly retentionMs: number;
  /** The oldest segments are trimmed while the partition's log is larger than this. */
  readonly maxBytes: number;
  /** A segment is closed and a new one started past this size or age. */
  readonly segmentBytes: number;
  readonly segmentMaxAgeMs: number;
  /** Flush each group of appends to the disk (fdatasync) before acknowledging it. */
  readonly fsync: boolean;
  /** Recent events kept decoded in memory, so that consumers at the head of the log never read the disk. */
  readonly cacheEvents: number;
  /** And at most this many bytes of them (bodies plus an allowance per event): 10,000 events of 256 KB would be 2.5 GB. */
  readonly cacheBytes?: number;
  readonly warn: (message: string) => void;
}

/** Where a reader starts, as the Event Hubs selector filter says it (see amqp/selector.ts). */
export type StartPosition =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'sequence'; readonly value: number; readonly inclusive: boolean }
  | { readonly kind: 'offset'; readonly value: number; readonly inclusive: boolean }
  | { readonly kind: 'enqueued-time'; readonly value: number; readonly inclusive: boolean };

export interface PartitionProperties {
  readonly beginSequenceNumber: number;
  readonly lastEnqueuedSequenceNumber: number;
  readonly lastEnqueuedOffset: string;
  readonly lastEnqueuedTimeUtc: Date;
  readonly isEmpty: boolean;
}

const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;
/** What an event costs in memory besides its body: its object, dates, ids and properties, roughly. */
const CACHED_EVENT_OVERHEAD_BYTES = 512;

function cachedSize(event: TelemetryEvent): number {
  return event.body.length + CACHED_EVENT_OVERHEAD_BYTES;
}
interface PendingAppend {
  readonly segment: Segment;
  readonly record: Buffer;
  readonly event: TelemetryEvent;
  readonly resolve: (event: TelemetryEvent) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One partition of the Event Hub-compatible endpoint: an append-only log in segment files named
 * `<base offset>-<first sequence number>.log`. Offsets are byte positions in the partition's whole log, so they
 * never change, and trimming only ever deletes whole segments from the front. Appends are written in groups (one
 * write, and one fdatasync when enabled, per group) and acknowledged only once on disk; readers see an event only
 * after that.
 */
export class PartitionLog {
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private cache: TelemetryEvent[] = [];
  private cachedBytes = 0;
  private lastAssignedMs = 0;
  private nextSequence: number;
  /** Sequence number after the last event on disk. */
  private durableNextSequence: number;

  private constructor(
    private readonly options: PartitionLogOptions,
    private readonly segments: Segment[],
    private readonly onAppended: (event: TelemetryEvent) => void,
  ) {
    const active = this.active;
    this.nextSequence = active.firstSequence + active.count;
    this.durableNextSequence = this.nextSequence;
    this.lastAssignedMs = active.last?.enqueuedMs ?? 0;
  }

  static async open(
    options: PartitionLogOptions,
    onAppended: (event: TelemetryEvent) => void,
  ): Promise<PartitionLog> {
    await mkdir(options.dir, { recursive: true });
    const names = (await readdir(options.dir)).filter((name) => SEGMENT_NAME.test(name)).sort();
    const segments: Segment[] = [];
    for (const name of names) {
      const [, base, first] = SEGMENT_NAME.exec(name) ?? [];
      const segment = new Segment(Number(base), Number(first), join(options.dir, name), Date.now());
      await recoverSegment(segment, options.warn);
      segment.assignedSize = segment.size;
      segments.push(segment);
    }
    await dropInterruptedRollovers(segments, options.warn);
    if (segments.length === 0) segments.push(createSegment(options.dir, 0, 0));
    return new PartitionLog(options, segments, onAppended);
  }

  get partitionId(): string {
    return this.options.partitionId;
  }

  private get active(): Segment {
    const active = this.segments.at(-1);
    if (!active) throw new Error(`Partition ${this.options.partitionId} has no segment`);
    return active;
  }

  /** Appends an event; resolves once it is on disk (and visible to readers). */
  append(message: NewTelemetry): Promise<TelemetryEvent> {
    if (this.failure) return Promise.reject(this.failure);
    // Enqueued times never go backwards, so that positions by time are well defined.
    const enqueuedMs = Math.max(Date.now(), this.lastAssignedMs);
    this.lastAssignedMs = enqueuedMs;
    const sequenceNumber = this.nextSequence++;
    const record = encodeRecord(message, sequenceNumber, enqueuedMs);
    let segment = this.active;
    if (
      segment.assignedSize > 0 &&
      (segment.assignedSize + record.length > this.options.segmentBytes ||
        enqueuedMs - segment.createdMs > this.options.segmentMaxAgeMs)
    ) {
      try {
        segment = this.startSegment(segment.baseOffset + segment.assignedSize, sequenceNumber);
      } catch (error) {
        // Like a failed write: the caller gets a rejection (never a throw), and the log takes no more appends.
        return Promise.reject(this.fail(error));
      }
    }
    const event: TelemetryEvent = {
      ...message,
      partitionId: this.options.partitionId,
      sequenceNumber,
      offset: String(segment.baseOffset + segment.assignedSize),
      enqueuedTimeUtc: new Date(enqueuedMs),
    };
    segment.assignedSize += record.length;
    return new Promise((resolve, reject) => {
      this.pending.push({ segment, record, event, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Starts a new, empty segment. Its file is created at once: its name keeps the sequence numbering. */
  private startSegment(baseOffset: number, firstSequence: number): Segment {
    const segment = createSegment(this.options.dir, baseOffset, firstSequence);
    this.segments.push(segment);
    return segment;
  }

  private async flush(): Promise<void> {
    // Appends that arrive while a group is being written form the next group: one write per group.
    await Promise.resolve();
    while (this.pending.length > 0) {
      const group = this.pending;
      this.pending = [];
      try {
        await this.writeGroup(group);
      } catch (error) {
        const failure = this.fail(error);
        for (const item of [...group, ...this.pending]) item.reject(failure);
        this.pending = [];
        break;
      }
      for (const item of group) {
        const { segment, record, event } = item;
        segment.noteRecord(
          event.sequenceNumber,
          Number(event.offset) - segment.baseOffset,
          record.length,
          event.enqueuedTimeUtc.getTime(),
        );
        this.durableNextSequence = event.sequenceNumber + 1;
        this.cache.push(event);
        this.cachedBytes += cachedSize(event);
        item.resolve(event);
        try {
          this.onAppended(event);
        } catch (error) {
          // A listener's bug must not stop the flush loop: that would leave every later append pending forever.
          this.options.warn(
            `Partition ${this.options.partitionId}: a listener failed on event ${event.sequenceNumber}: ${(error as Error).message}`,
          );
        }
      }
      this.trimCache();
    }
    this.flushing = undefined;
  }

  private async writeGroup(group: readonly PendingAppend[]): Promise<void> {
    let start = 0;
    while (start < group.length) {
      const segment = group[start]?.segment;
      if (!segment) break;
      let end = start;
      while (end < group.length && group[end]?.segment === segment) end++;
      segment.handle ??= open(segment.path, 'a');
      const handle = await segment.handle;
      let buffers = group.slice(start, end).map((item) => item.record);
      while (buffers.length > 0) {
        const { bytesWritten } = await handle.writev(buffers);
        buffers = dropWritten(buffers, bytesWritten);
      }
      if (this.options.fsync) await handle.datasync();
      if (segment !== this.active) await segment.close();
      start = end;
    }
  }

  /** Makes the log refuse appends from now on, with an error that says why. */
  private fail(error: unknown): Error {
    this.failure = new Error(
      `Partition ${this.options.partitionId} could not write its log: ${(error as Error).message}`,
    );
    this.options.warn(this.failure.message);
    return this.failure;
  }

  private trimCache(): void {
    const limit = this.options.cacheEvents;
    if (this.cache.length > limit * 1.5) this.dropCached(this.cache.length - limit);
    const byteLimit = this.options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (this.cachedBytes > byteLimit) {
      // Down to three quarters, so that trimming happens in steps, not on every append.
      let excess = this.cachedBytes - byteLimit * 0.75;
      let count = 0;
      while (excess > 0 && count < this.cache.length) {
        excess -= cachedSize(this.cache[count] as TelemetryEvent);
        count++;
      }
      this.dropCached(count);
    }
  }

  /** Removes the oldest `count` events from the tail cache. */
  private dropCached(count: number): void {
    for (const event of this.cache.splice(0, count)) this.cachedBytes -= cachedSize(event);
  }

  /** Waits for appends in flight. */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  async close(): Promise<void> {
    await this.drain();
    await Promise.all(this.segments.map((segment) => segment.close()));
  }

  properties(): PartitionProperties {
    const retained = this.segments.filter((segment) => segment.count > 0);
    const last = retained.at(-1)?.last;
    const lastSegment = retained.at(-1);
    return {
      beginSequenceNumber:
        retained[0]?.firstSequence ?? (this.durableNextSequence === 0 ? -1 : this.durableNextSequence),
      lastEnqueuedSequenceNumber: last ? last.sequenceNumber : this.durableNextSequence - 1,
      lastEnqueuedOffset: last && lastSegment ? String(lastSegment.baseOffset + last.position) : '-1',
      lastEnqueuedTimeUtc: new Date(last ? last.enqueuedMs : 0),
      isEmpty: retained.length === 0,
    };
  }

  /** The sequence number of the first event at or after `position` (the next sequence number if none yet). */
  resolve(position: StartPosition): number {
    const begin =
      this.segments.find((segment) => segment.count > 0)?.firstSequence ?? this.durableNextSequence;
    switch (position.kind) {
      case 'earliest':
        return begin;
      case 'latest':
        return this.durableNextSequence;
      case 'sequence': {
        const first = position.inclusive ? position.value : position.value + 1;
        return Math.min(Math.max(first, begin), this.durableNextSequence);
      }
      case 'offset':
        return this.firstWhere((entry, segment) => {
          const offset = segment.baseOffset + entry.position;
          return position.inclusive ? offset >= position.value : offset > position.value;
        });
      case 'enqueued-time':
        return this.firstWhere((entry) =>
          position.inclusive ? entry.enqueuedMs >= position.value : entry.enqueuedMs > position.value,
        );
    }
  }

  /** First event for which a monotonic predicate holds: skip whole segments, then index entries, then scan. */
  private firstWhere(matches: (entry: IndexEntry, segment: Segment) => boolean): number {
    for (const segment of this.segments) {
      if (!segment.last || !matches(segment.last, segment)) continue;
      const first = segment.index[0];
      if (!first || matches(first, segment)) return segment.firstSequence;
      let low = 0; // index[low] does not match
      let high = segment.index.length; // index[high] matches, or is past the end
      while (high - low > 1) {
        const mid = (low + high) >> 1;
        const entry = segment.index[mid];
        if (entry && matches(entry, segment)) high = mid;
        else low = mid;
      }
      const from = segment.index[low] ?? first;
      let found: number | undefined;
      scanSegment(segment, from.position, (entry) => {
        if (!matches(entry, segment)) return true;
        found = entry.sequenceNumber;
        return false;
      });
      if (found !== undefined) return found;
    }
    return this.durableNextSequence;
  }

  /** Up to `maxCount` events from `sequenceNumber` on, oldest first; empty when there are none yet. */
  read(sequenceNumber: number, maxCount: number): TelemetryEvent[] {
    if (sequenceNumber >= this.durableNextSequence || maxCount <= 0) return [];
    const cachedFrom = this.cache[0]?.sequenceNumber ?? this.durableNextSequence;
    if (sequenceNumber >= cachedFrom) {
      const start = sequenceNumber - cachedFrom;
      return this.cache.slice(start, start + maxCount);
    }
    return this.readFromDisk(sequenceNumber, maxCount);
  }

  private readFromDisk(sequenceNumber: number, maxCount: number): TelemetryEvent[] {
    const events: TelemetryEvent[] = [];
    for (const segment of this.segments) {
      if (segment.count === 0 || segment.firstSequence + segment.count <= sequenceNumber) continue;
      scanSegment(
        segment,
        lastIndexEntryAtOrBefore(segment.index, sequenceNumber)?.position ?? 0,
        (entry, decode) => {
          if (entry.sequenceNumber < sequenceNumber) return true;
          events.push({
            ...decode(),
            partitionId: this.options.partitionId,
            offset: String(segment.baseOffset + entry.position),
          });
          return events.length < maxCount;
        },
        true,
      );
      if (events.length >= maxCount) break;
      sequenceNumber = segment.firstSequence + segment.count;
    }
    return events;
  }

  /** Deletes the oldest segments while they are past retention or the log is over its size cap. */
  async trim(nowMs = Date.now()): Promise<void> {
    for (;;) {
      const oldest = this.segments[0];
      if (!oldest || oldest.hasPendingWrites) return;
      const totalBytes = this.segments.reduce((sum, segment) => sum + segment.size, 0);
      const expired = oldest.last !== undefined && oldest.last.enqueuedMs < nowMs - this.options.retentionMs;
      const overCap = totalBytes > this.options.maxBytes;
      // An empty segment before the active one (a crash right after a rollover, or a first record cut off at
      // recovery) holds nothing and must not stop the trimming of those after it.
      const emptyAndClosed = oldest.count === 0 && oldest !== this.active;
      if (!emptyAndClosed && (oldest.count === 0 || !(expired || overCap))) return;
      if (oldest === this.active) {
        // Close the active segment so that it can go; numbering continues in the new one's name.
        this.startSegment(oldest.baseOffset + oldest.size, oldest.firstSequence + oldest.count);
      }
      this.segments.shift();
      await oldest.close();
      await unlink(oldest.path);
      const begin = oldest.firstSequence + oldest.count;
      const keepFrom = this.cache.findIndex((event) => event.sequenceNumber >= begin);
      this.dropCached(keepFrom === -1 ? this.cache.length : keepFrom);
    }
  }
}

/**
 * A rollover creates the next segment's file, named after the next offset and sequence number, while the current
 * segment's last records may still be waiting to be written. A kill then leaves an empty last segment whose name
 * skips those numbers. Numbering must continue from the last record actually on disk, so such a segment goes: the
 * one before it becomes the active one again. An empty last segment that does continue the one before it, or that
 * stands alone (everything before it trimmed), keeps the numbering in its name and stays.
 */
async function dropInterruptedRollovers(segments: Segment[], warn: (message: string) => void): Promise<void> {
  for (;;) {
    const last = segments.at(-1);
    const previous = segments.at(-2);
    if (!last || !previous || last.count > 0) return;
    const continues =
      last.firstSequence === previous.firstSequence + previous.count &&
      last.baseOffset === previous.baseOffset + previous.size;
    if (continues) return;
    warn(
      `${last.path}: removed an empty segment left by an interrupted rollover; numbering continues at ` +
        `${previous.firstSequence + previous.count}, after the last record on disk.`,
    );
    segments.pop();
    await unlink(last.path);
  }
}
