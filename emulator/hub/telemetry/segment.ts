import { closeSync, fsyncSync, openSync, readSync, writeFileSync } from 'node:fs';
import { readFile, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecord, type TelemetryEvent } from './record';

/*
 * The segment files of a partition's log: `<base offset>-<first sequence number>.log`, 16 digits each, holding
 * records (record.ts) back to back. The name carries the numbering: an empty segment still says where the next
 * event's offset and sequence number are.
 */

/** A sparse index entry: every INDEX_INTERVAL-th record of a segment, to start scans near their target. */
export interface IndexEntry {
  readonly sequenceNumber: number;
  readonly position: number;
  readonly enqueuedMs: number;
}

const INDEX_INTERVAL = 64;
const READ_CHUNK_BYTES = 1024 * 1024;
export const SEGMENT_NAME = /^(\d{16})-(\d{16})\.log$/;

export class Segment {
  /** Bytes on disk (acknowledged). */
  size = 0;
  /** Bytes handed out to appends, including those still being written. */
  assignedSize = 0;
  count = 0;
  readonly index: IndexEntry[] = [];
  last: IndexEntry | undefined;
  handle: Promise<FileHandle> | undefined;

  constructor(
    readonly baseOffset: number,
    readonly firstSequence: number,
    readonly path: string,
    readonly createdMs: number,
  ) {}

  static fileName(baseOffset: number, firstSequence: number): string {
    return `${String(baseOffset).padStart(16, '0')}-${String(firstSequence).padStart(16, '0')}.log`;
  }

  get hasPendingWrites(): boolean {
    return this.assignedSize !== this.size;
  }

  noteRecord(sequenceNumber: number, position: number, length: number, enqueuedMs: number): void {
    const entry = { sequenceNumber, position, enqueuedMs };
    if (this.count % INDEX_INTERVAL === 0) this.index.push(entry);
    this.last = entry;
    this.count += 1;
    this.size = position + length;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    // A handle that never opened has nothing to close: the append that needed it already failed and said why.
    const opened = await handle?.catch(() => undefined);
    await opened?.close();
  }
}

/** The last index entry with a sequence number at or before `sequenceNumber` (the index is in order). */
export function lastIndexEntryAtOrBefore(
  index: readonly IndexEntry[],
  sequenceNumber: number,
): IndexEntry | undefined {
  let low = 0;
  let high = index.length; // entries before `low` qualify; entries from `high` on do not
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((index[mid]?.sequenceNumber ?? Infinity) <= sequenceNumber) low = mid + 1;
    else high = mid;
  }
  return index[low - 1];
}

export function createSegment(dir: string, baseOffset: number, firstSequence: number): Segment {
  const segment = new Segment(
    baseOffset,
    firstSequence,
    join(dir, Segment.fileName(baseOffset, firstSequence)),
    Date.now(),
  );
  writeFileSync(segment.path, '', { flag: 'a' });
  // The new file's name must survive a power loss too: it is where the events acknowledged next will be.
  const directory = openSync(dir, 'r');
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
  return segment;
}

export function dropWritten(buffers: Buffer[], bytesWritten: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = bytesWritten;
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
    } else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

/**
 * Reads a segment's records from `position` (a record boundary) up to its acknowledged size, calling `visit`
 * for each until it returns false. Synchronous: reads are short (a consumer's credit) and start near their target.
 */
export function scanSegment(
  segment: Segment,
  position: number,
  visit: (entry: IndexEntry, decode: () => Omit<TelemetryEvent, 'partitionId' | 'offset'>) => boolean,
  wantBodies = false,
): void {
  const fd = openSync(segment.path, 'r');
  try {
    let buffer = Buffer.alloc(wantBodies ? READ_CHUNK_BYTES : 64 * 1024);
    let bufferStart = position;
    let filled = readSync(fd, buffer, 0, Math.min(buffer.length, segment.size - bufferStart), bufferStart);
    let cursor = 0;
    while (bufferStart + cursor < segment.size) {
      const result = decodeRecord(buffer.subarray(0, filled), cursor);
      if (result.kind === 'corrupt') throw new Error(`${segment.path}: ${result.reason}`);
      if (result.kind === 'incomplete') {
        const consumed = cursor;
        const remaining = segment.size - (bufferStart + consumed);
        if (consumed === 0) {
          // The record does not fit in the buffer at all: a bigger buffer, unless it was already all there is.
          if (filled >= remaining)
            throw new Error(`${segment.path}: record at ${bufferStart} overruns the segment`);
          buffer = Buffer.alloc(buffer.length * 2);
        }
        bufferStart += consumed;
        cursor = 0;
        filled = readSync(fd, buffer, 0, Math.min(buffer.length, remaining), bufferStart);
        if (filled === 0) return;
        continue;
      }
      const entry = {
        sequenceNumber: result.sequenceNumber,
        position: bufferStart + cursor,
        enqueuedMs: result.enqueuedMs,
      };
      if (!visit(entry, result.decode)) return;
      cursor += result.length;
    }
  } finally {
    closeSync(fd);
  }
}

/** Rebuilds a segment's index from its file; cuts off a record torn by a crash (never acknowledged). */
export async function recoverSegment(segment: Segment, warn: (message: string) => void): Promise<void> {
  const content = await readFile(segment.path);
  let position = 0;
  while (position < content.length) {
    const result = decodeRecord(content, position);
    if (result.kind !== 'record') {
      const reason = result.kind === 'incomplete' ? 'an incomplete record' : result.reason;
      warn(`${segment.path}: cut off ${content.length - position} bytes at ${position} (${reason}).`);
      await truncate(segment.path, position);
      break;
    }
    const expected = segment.firstSequence + segment.count;
    if (result.sequenceNumber !== expected) {
      warn(
        `${segment.path}: record at ${position} has sequence number ${result.sequenceNumber}, not ${expected}; cut off.`,
      );
      await truncate(segment.path, position);
      break;
    }
    segment.noteRecord(result.sequenceNumber, position, result.length, result.enqueuedMs);
    position += result.length;
  }
}
