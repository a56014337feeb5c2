import { randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import { readJsonFile, writeFileAtomic } from '../../devkit/json-file';
import { withFileLock } from './file-lock';

interface OwnershipRecord {
  readonly partitionId: string;
  readonly ownerId: string;
  readonly etag: string;
  readonly lastModifiedTimeInMs: number;
}

interface CheckpointRecord {
  readonly partitionId: string;
  readonly sequenceNumber: number;
  readonly offset: string;
  readonly lastModifiedTimeInMs: number;
}

/**
 * A CheckpointStore on the local disk, for EventHubConsumerClient: the same contract and layout as the Azure Blob
 * checkpoint store the Functions host uses, with files instead of blobs:
 *
 *   <root>/<namespace>/<event hub>/<consumer group>/ownership/<partition>.json
 *   <root>/<namespace>/<event hub>/<consumer group>/checkpoint/<partition>.json
 *
 * (names lower-cased, as Event Hubs names are case-insensitive, and escaped for file names). Every write is
 * atomic (temporary file + rename). Ownership claims use etags as blob conditions do: a claim without an etag
 * succeeds only if nobody owns the partition yet, a claim with one only if it is still the current etag; the
 * compare-and-write runs under a lock file, so that it holds across processes too.
 */
export class FileCheckpointStore implements CheckpointStore {
  constructor(readonly rootDir: string) {}

  async listOwnership(
    fullyQualifiedNamespace: string,
    eventHubName: string,
    consumerGroup: string,
  ): Promise<PartitionOwnership[]> {
    const records = await this.readAll(
      this.folder(fullyQualifiedNamespace, eventHubName, consumerGroup, 'ownership'),
      isOwnershipRecord,
    );
    return records.map((record) => ({
      fullyQualifiedNamespace,
      eventHubName,
      consumerGroup,
      partitionId: record.partitionId,
      ownerId: record.ownerId,
      etag: record.etag,
      lastModifiedTimeInMs: record.lastModifiedTimeInMs,
    }));
  }

  async claimOwnership(partitionOwnership: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const claimed: PartitionOwnership[] = [];
    for (const request of partitionOwnership) {
      const path = this.file(request, 'ownership');
      const result = await withFileLock(path, async () => {
        const current = await readJsonFile(path, 'an Event Hub checkpoint or partition ownership');
        if (current !== undefined && !isOwnershipRecord(current)) {
          throw new Error(`${path} is not an ownership record; delete it to start over.`);
        }
        // Blob semantics: no etag = "if none exists", an etag = "if it is still this one".
        const conflict = request.etag === undefined ? current !== undefined : current?.etag !== request.etag;
        if (conflict) return undefined;
        const record: OwnershipRecord = {
          partitionId: request.partitionId,
          ownerId: request.ownerId,
          etag: randomUUID(),
          lastModifiedTimeInMs: Date.now(),
        };
        await writeFileAtomic(path, `${JSON.stringify(record, null, 2)}\n`);
        return record;
      });
      const record = result?.value;
      if (record)
        claimed.push({ ...request, etag: record.etag, lastModifiedTimeInMs: record.lastModifiedTimeInMs });
    }
    return claimed;
  }

  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    if (!Number.isSafeInteger(checkpoint.sequenceNumber) || typeof checkpoint.offset !== 'string') {
      throw new TypeError(
        "updateCheckpoint needs the event's sequenceNumber (a whole number) and offset (a string).",
      );
    }
    const record: CheckpointRecord = {
      partitionId: checkpoint.partitionId,
      sequenceNumber: checkpoint.sequenceNumber,
      offset: checkpoint.offset,
      lastModifiedTimeInMs: Date.now(),
    };
    await writeFileAtomic(this.file(checkpoint, 'checkpoint'), `${JSON.stringify(record, null, 2)}\n`);
  }

  async listCheckpoints(
    fullyQualifiedNamespace: string,
    eventHubName: string,
    consumerGroup: string,
  ): Promise<Checkpoint[]> {
    const records = await this.readAll(
      this.folder(fullyQualifiedNamespace, eventHubName, consumerGroup, 'checkpoint'),
      isCheckpointRecord,
    );
    return records.map((record) => ({
      fullyQualifiedNamespace,
      eventHubName,
      consumerGroup,
      partitionId: record.partitionId,
      sequenceNumber: record.sequenceNumber,
      offset: record.offset,
    }));
  }

  private folder(namespace: string, eventHubName: string, consumerGroup: string, kind: string): string {
    return join(
      this.rootDir,
      toFileName(namespace),
      toFileName(eventHubName),
      toFileName(consumerGroup),
      kind,
    );
  }

  private file(
    key: {
      fullyQualifiedNamespace: string;
      eventHubName: string;
      consumerGroup: string;
      partitionId: string;
    },
    kind: 'ownership' | 'checkpoint',
  ): string {
    return join(
      this.folder(key.fullyQualifiedNamespace, key.eventHubName, key.consumerGroup, kind),
      `${toFileName(key.partitionId)}.json`,
    );
  }

  private async readAll<T>(folder: string, isRecord: (value: unknown) => value is T): Promise<T[]> {
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const records: T[] = [];
    // Only finished files: temporary files of a write in progress (or of a crash) end in .tmp, locks in .lock.
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const path = join(folder, name);
      const value = await readJsonFile(path, 'an Event Hub checkpoint or partition ownership');
      if (value === undefined) continue;
      if (!isRecord(value))
        throw new Error(`${path} is not a record this store wrote; delete it to start over.`);
      records.push(value);
    }
    return records;
  }
}

/** Lower-case, with anything but letters, digits, `.`, `-` and `_` as %XX (so `$Default` is `%24default`). */
export function toFileName(name: string): string {
  let result = '';
  for (const byte of Buffer.from(name.toLowerCase(), 'utf8')) {
    const char = String.fromCharCode(byte);
    result += /[a-z0-9._-]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // '', '.' and '..' are not names of ordinary files.
  return /^\.*$/.test(result) ? `%${result.replace(/\./g, '%2E')}` : result;
}

function isOwnershipRecord(value: unknown): value is OwnershipRecord {
  const record = value as Partial<OwnershipRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.partitionId === 'string' &&
    typeof record.ownerId === 'string' &&
    typeof record.etag === 'string' &&
    typeof record.lastModifiedTimeInMs === 'number'
  );
}

function isCheckpointRecord(value: unknown): value is CheckpointRecord {
  const record = value as Partial<CheckpointRecord> | null;
  return (
    typeof record === 'object' &&
    record !== null &&
    typeof record.partitionId === 'string' &&
    typeof record.sequenceNumber === 'number' &&
    typeof record.offset === 'string'
  );
}
