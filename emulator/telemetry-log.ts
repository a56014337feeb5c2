import { EventEmitter } from 'node:events';

/** One device-to-cloud message as the Event Hub-compatible endpoint will serve it. */
export interface TelemetryEvent {
  readonly partitionId: string;
  readonly sequenceNumber: number;
  /** Event Hubs offsets are strings; here the byte position of the event in its partition. */
  readonly offset: string;
  readonly enqueuedTimeUtc: Date;
  readonly deviceId: string;
  readonly authGenerationId: string;
  readonly body: Buffer;
  readonly systemProperties: Readonly<Record<string, string>>;
  readonly applicationProperties: Readonly<Record<string, string>>;
}

export type NewTelemetry = Omit<
  TelemetryEvent,
  'partitionId' | 'sequenceNumber' | 'offset' | 'enqueuedTimeUtc'
>;

interface Partition {
  events: TelemetryEvent[];
  nextSequenceNumber: number;
  nextOffset: number;
}

interface TelemetryLogEvents {
  appended: [event: TelemetryEvent];
}

/**
 * The per-partition event log behind the Event Hub-compatible endpoint. All messages of a device go to one
 * partition (by a stable hash of its id), in order. Memory is bounded: the oldest events are trimmed.
 */
export class TelemetryLog extends EventEmitter<TelemetryLogEvents> {
  private readonly partitions: Partition[];

  constructor(
    readonly partitionCount: number,
    private readonly maxEventsPerPartition = 10_000,
  ) {
    super();
    this.partitions = Array.from({ length: partitionCount }, () => ({
      events: [],
      nextSequenceNumber: 0,
      nextOffset: 0,
    }));
  }

  partitionOf(deviceId: string): number {
    // FNV-1a: stable across restarts and processes, unlike anything seeded.
    let hash = 0x811c9dc5;
    for (let i = 0; i < deviceId.length; i++) {
      hash ^= deviceId.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
    return hash % this.partitionCount;
  }

  append(message: NewTelemetry): TelemetryEvent {
    const index = this.partitionOf(message.deviceId);
    const partition = this.partitions[index];
    if (!partition) throw new Error(`No partition ${index}`);
    const event: TelemetryEvent = {
      ...message,
      partitionId: String(index),
      sequenceNumber: partition.nextSequenceNumber++,
      offset: String(partition.nextOffset),
      enqueuedTimeUtc: new Date(),
    };
    partition.nextOffset += message.body.length + 1;
    partition.events.push(event);
    if (partition.events.length > this.maxEventsPerPartition) {
      partition.events.splice(0, partition.events.length - this.maxEventsPerPartition);
    }
    this.emit('appended', event);
    return event;
  }

  /** Events of a partition, oldest first. */
  events(partitionId: number): readonly TelemetryEvent[] {
    return this.partitions[partitionId]?.events ?? [];
  }
}
