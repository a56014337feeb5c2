import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hubErrors } from '../errors';

/** The outcomes a feedback record reports (`statusCode`), as IoT Hub names them. */
export type FeedbackStatus = 'Success' | 'Expired' | 'DeliveryCountExceeded' | 'Rejected' | 'Purged';

/** One record of a feedback message, with IoT Hub's field names. */
export interface FeedbackRecord {
  readonly originalMessageId: string;
  readonly description: string;
  readonly deviceGenerationId: string;
  readonly deviceId: string;
  readonly enqueuedTimeUtc: string;
  readonly statusCode: FeedbackStatus;
}

/** A feedback message: a batch of records, delivered to the service's feedback receiver. */
export interface FeedbackBatch {
  readonly records: readonly FeedbackRecord[];
  readonly enqueuedTimeMs: number;
  readonly expiryTimeMs: number;
  deliveryCount: number;
  lockToken: string | undefined;
  lockedUntilMs: number | undefined;
}

export const FEEDBACK_LIMITS = {
  /** Records per feedback message. */
  maxRecordsPerBatch: 64,
  /**
   * How long records wait for more before they go out as one message. IoT Hub batches for up to a minute; the
   * emulator sends within a fraction of a second, so that local tests see their feedback quickly.
   */
  batchWindowMs: 200,
  /** Feedback kept for the service (IoT Hub: 1 hour by default, up to 48). */
  ttlMs: 3_600_000,
  lockMs: 60_000,
  maxDeliveryCount: 10,
} as const;

export const FEEDBACK_DESCRIPTIONS: Readonly<Record<FeedbackStatus, string>> = {
  Success: 'Success',
  Expired: 'Message expired',
  DeliveryCountExceeded: 'Message delivery count exceeded',
  Rejected: 'Message rejected',
  Purged: 'Message purged',
};

interface FeedbackEvents {
  available: [];
  changed: [];
}

/**
 * The service's feedback queue (`/messages/serviceBound/feedback`): records are gathered into batches, each a
 * message the service receives locked and completes (or abandons, to get it again).
 */
export class FeedbackQueue extends EventEmitter<FeedbackEvents> {
  private readonly batches: FeedbackBatch[] = [];
  private gathering: FeedbackRecord[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(stored: readonly FeedbackBatch[] = []) {
    super();
    for (const batch of stored)
      this.batches.push({ ...batch, lockToken: undefined, lockedUntilMs: undefined });
  }

  /** Every batch, and the records still gathering as one more (a restart must not lose them). */
  stored(): FeedbackBatch[] {
    return this.gathering.length === 0
      ? [...this.batches]
      : [...this.batches, this.batchOf(this.gathering, Date.now())];
  }

  add(record: FeedbackRecord): void {
    this.gathering.push(record);
    if (this.gathering.length >= FEEDBACK_LIMITS.maxRecordsPerBatch) this.seal();
    else
      this.timer ??= setTimeout(() => {
        this.seal();
      }, FEEDBACK_LIMITS.batchWindowMs).unref();
  }

  receive(nowMs = Date.now()): FeedbackBatch | undefined {
    this.sweep(nowMs);
    for (const batch of this.batches) {
      if (batch.lockToken !== undefined) continue;
      batch.deliveryCount++;
      batch.lockToken = randomUUID();
      batch.lockedUntilMs = nowMs + FEEDBACK_LIMITS.lockMs;
      return batch;
    }
    return undefined;
  }

  complete(lockToken: string): void {
    const index = this.batches.findIndex((batch) => batch.lockToken === lockToken);
    if (index < 0) throw hubErrors.deviceMessageLockLost('No feedback message is locked with this token.');
    this.batches.splice(index, 1);
    this.emit('changed');
  }

  abandon(lockToken: string): void {
    const batch = this.batches.find((candidate) => candidate.lockToken === lockToken);
    if (!batch) throw hubErrors.deviceMessageLockLost('No feedback message is locked with this token.');
    this.unlock(batch);
  }

  /** Drops expired feedback, returns expired locks, and dead-letters what was delivered too often. */
  sweep(nowMs = Date.now()): void {
    for (const batch of [...this.batches]) {
      const expired = batch.expiryTimeMs <= nowMs;
      const exhausted =
        batch.lockToken === undefined && batch.deliveryCount >= FEEDBACK_LIMITS.maxDeliveryCount;
      if (expired || exhausted) {
        this.batches.splice(this.batches.indexOf(batch), 1);
        this.emit('changed');
      } else if (batch.lockedUntilMs !== undefined && batch.lockedUntilMs <= nowMs) {
        this.unlock(batch);
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.seal();
  }

  private batchOf(records: readonly FeedbackRecord[], nowMs: number): FeedbackBatch {
    return {
      records,
      enqueuedTimeMs: nowMs,
      expiryTimeMs: nowMs + FEEDBACK_LIMITS.ttlMs,
      deliveryCount: 0,
      lockToken: undefined,
      lockedUntilMs: undefined,
    };
  }

  private unlock(batch: FeedbackBatch): void {
    batch.lockToken = undefined;
    batch.lockedUntilMs = undefined;
    this.emit('available');
  }

  private seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.gathering.length === 0) return;
    this.batches.push(this.batchOf(this.gathering, Date.now()));
    this.gathering = [];
    this.emit('changed');
    this.emit('available');
  }
}
