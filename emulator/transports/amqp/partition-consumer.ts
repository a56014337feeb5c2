import type { Sender } from 'rhea';
import type { PartitionLog } from '../../hub/telemetry/partition-log';
import { creditOf } from './link-internals';
import { runtimeMetrics, toAmqpMessage } from './event-message';
import type { ConsumerLink, LinkRefusal } from './consumer-registry';

/** Most events read from the log per turn of the event loop, whatever the credit, so that one reader cannot starve others. */
const MAX_EVENTS_PER_TURN = 1000;

/**
 * Serves one receiver link: sends the partition's events from its start position on, as far as the link's
 * credit allows, and again when credit arrives or new events are appended.
 */
export class PartitionConsumer implements ConsumerLink {
  private scheduled = false;
  private closed = false;

  constructor(
    readonly sender: Sender,
    /** Consumer group and partition, as the registry files the link: `$default/0`. */
    readonly key: string,
    private readonly log: PartitionLog,
    private nextSequence: number,
    readonly epoch: number | undefined,
    private readonly withRuntimeMetrics: boolean,
    /** Called before each turn; a refusal (an expired token) closes the link instead. */
    private readonly checkAccess: () => LinkRefusal | undefined,
  ) {}

  get name(): string {
    return this.sender.name;
  }

  get partitionId(): string {
    return this.log.partitionId;
  }

  /** Schedules a turn; many appends within one tick make one turn. */
  wake(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.closed || !this.sender.is_open() || !this.sender.sendable()) return;
    try {
      this.sendAvailable();
    } catch (error) {
      // Outside rhea's own input handling: an exception here would end the emulator. Close this link instead.
      this.disconnect({
        condition: 'amqp:internal-error',
        description: `The emulator could not send events of this partition: ${(error as Error).message}`,
      });
    }
  }

  private sendAvailable(): void {
    const refusal = this.checkAccess();
    if (refusal) {
      this.disconnect(refusal);
      return;
    }
    const events = this.log.read(this.nextSequence, Math.min(creditOf(this.sender), MAX_EVENTS_PER_TURN));
    if (events.length === 0) return;
    const metrics = this.withRuntimeMetrics ? runtimeMetrics(this.log.properties()) : undefined;
    for (const event of events) {
      // Credit is not all: rhea's session window can fill first (and overflows if sent past).
      if (!this.sender.sendable()) break;
      const message = toAmqpMessage(event);
      if (metrics) message.delivery_annotations = metrics;
      this.sender.send(message);
      this.nextSequence = event.sequenceNumber + 1;
    }
    // More may be waiting (a backlog, or credit beyond one turn's share).
    if (this.sender.sendable()) this.wake();
  }

  /** Closes the link if its claim no longer holds (expired, not renewed), even when it is idle. */
  recheckAccess(): void {
    if (this.closed) return;
    const refusal = this.checkAccess();
    if (refusal) this.disconnect(refusal);
  }

  disconnect(refusal: LinkRefusal): void {
    if (this.closed) return;
    this.closed = true;
    this.sender.close(refusal);
  }

  /** The link is gone (closed by the client or with its connection). */
  stop(): void {
    this.closed = true;
  }
}
