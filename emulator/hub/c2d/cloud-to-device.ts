import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hubErrors } from '../errors';
import { messageSize } from '../telemetry/message-size';
import type { FeedbackStatus } from './feedback';

/** How the service asked to hear about a message's fate (`iothub-ack`). */
export type AckMode = 'none' | 'positive' | 'negative' | 'full';

/** IoT Hub's limits for cloud-to-device messages (IoT Hub quotas, C2D messaging documentation). */
export const C2D_LIMITS = {
  /** Messages enqueued or delivered but not yet settled, per device. */
  maxPending: 50,
  /** Body and properties, as for device-to-cloud messages. */
  maxMessageBytes: 64 * 1024,
  defaultTtlMs: 3_600_000,
  maxTtlMs: 48 * 3_600_000,
  /** Deliveries before a message is dead-lettered (DeliveryCountExceeded). */
  maxDeliveryCount: 10,
  /** How long a delivered message waits for complete, reject or abandon before it returns to the queue. */
  lockMs: 60_000,
  /**
   * The lock an HTTPS poll may ask for (`IotHub-MessageLockTimeout`, seconds). IoT Hub documents no range; the
   * emulator takes 1 s to 5 min.
   */
  minLockMs: 1_000,
  maxLockMs: 300_000,
} as const;

/** A message the service sends, as a transport received it. */
export interface NewCloudToDeviceMessage {
  readonly messageId?: string;
  readonly correlationId?: string;
  readonly userId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  /** Absolute expiry (ms since the epoch); IoT Hub's default TTL applies without one. */
  readonly expiryTimeMs?: number;
  readonly ack: AckMode;
  readonly properties: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** A queued message, as the hub keeps it (and persists it). */
export interface CloudToDeviceMessage {
  readonly deviceId: string;
  readonly messageId: string | undefined;
  readonly correlationId: string | undefined;
  readonly userId: string | undefined;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly to: string;
  readonly ack: AckMode;
  readonly properties: Readonly<Record<string, string>>;
  readonly body: Buffer;
  readonly enqueuedTimeMs: number;
  readonly expiryTimeMs: number;
  /**
   * The queue's sequence number (`iothub-sequencenumber` over HTTPS), increasing in enqueue order; set by the
   * queues for every message they hold.
   */
  readonly sequenceNumber?: number;
  /** How many times the message was handed to the device. */
  deliveryCount: number;
  /** Set while delivered: the token that settles it, and until when. */
  lockToken: string | undefined;
  lockedUntilMs: number | undefined;
}

/** What happened to a message, for its feedback record. */
export interface Settlement {
  readonly message: CloudToDeviceMessage;
  readonly status: FeedbackStatus;
}

interface QueuesEvents {
  /** A message of this device can be delivered now (new, abandoned, or its lock expired). */
  available: [deviceId: string];
  /** A message left the queue for good, with the outcome its feedback reports. */
  settled: [settlement: Settlement];
  changed: [];
}

/** The persisted form of a message: the body as base64 (no sequence number in files written before HTTPS). */
export interface StoredCloudToDeviceMessage extends Omit<CloudToDeviceMessage, 'body'> {
  readonly body: string;
}

/**
 * Cloud-to-device queues as IoT Hub keeps them, one per device: at most 50 pending messages of up to 64 KB, a TTL
 * (1 h by default, 48 h at most), and each message's life from enqueued to delivered (locked for a minute) to
 * completed, rejected (dead-lettered), abandoned (back in the queue) or expired, with a maximum delivery count.
 * Outcomes are announced (`settled`) for feedback. The transports deliver and settle; this class knows none.
 */
export class CloudToDeviceQueues extends EventEmitter<QueuesEvents> {
  private readonly queues = new Map<string, CloudToDeviceMessage[]>();
  private nextSequenceNumber = 1;

  constructor(stored: readonly StoredCloudToDeviceMessage[] = []) {
    super();
    for (const message of stored) {
      this.nextSequenceNumber = Math.max(this.nextSequenceNumber, (message.sequenceNumber ?? 0) + 1);
    }
    for (const message of stored) {
      // A lock does not survive a restart: the message is delivered again, as after a lost connection.
      this.queueOf(message.deviceId).push({
        ...message,
        sequenceNumber: message.sequenceNumber ?? this.nextSequenceNumber++,
        body: Buffer.from(message.body, 'base64'),
        lockToken: undefined,
        lockedUntilMs: undefined,
      });
    }
  }

  /** Messages pending for a device (enqueued or delivered), as the registry's `cloudToDeviceMessageCount`. */
  pendingCount(deviceId: string): number {
    return this.queues.get(deviceId)?.length ?? 0;
  }

  /** Everything pending, for persistence. */
  stored(): StoredCloudToDeviceMessage[] {
    return [...this.queues.values()]
      .flat()
      .map((message) => ({ ...message, body: message.body.toString('base64') }));
  }

  /** Queues a message; throws IoT Hub's errors for one too large or a full queue. */
  enqueue(deviceId: string, input: NewCloudToDeviceMessage, nowMs = Date.now()): CloudToDeviceMessage {
    const size = messageSize(input.body, systemValues(input), input.properties);
    if (size > C2D_LIMITS.maxMessageBytes) {
      throw hubErrors.messageTooLarge(
        `The message is ${size} bytes (body and properties); cloud-to-device messages are limited to ${C2D_LIMITS.maxMessageBytes} bytes.`,
      );
    }
    const queue = this.queueOf(deviceId);
    if (queue.length >= C2D_LIMITS.maxPending) {
      throw hubErrors.deviceMaximumQueueDepthExceeded(
        `The cloud-to-device queue of device ${JSON.stringify(deviceId)} holds ${C2D_LIMITS.maxPending} messages, the most IoT Hub keeps; the device must complete or reject some first.`,
      );
    }
    const ttl = input.expiryTimeMs === undefined ? C2D_LIMITS.defaultTtlMs : input.expiryTimeMs - nowMs;
    const message: CloudToDeviceMessage = {
      deviceId,
      messageId: input.messageId,
      correlationId: input.correlationId,
      userId: input.userId,
      contentType: input.contentType,
      contentEncoding: input.contentEncoding,
      to: `/devices/${deviceId}/messages/devicebound`,
      ack: input.ack,
      properties: { ...input.properties },
      body: input.body,
      enqueuedTimeMs: nowMs,
      expiryTimeMs: nowMs + Math.min(Math.max(ttl, 0), C2D_LIMITS.maxTtlMs),
      sequenceNumber: this.nextSequenceNumber++,
      deliveryCount: 0,
      lockToken: undefined,
      lockedUntilMs: undefined,
    };
    queue.push(message);
    this.emit('changed');
    this.emit('available', deviceId);
    return message;
  }

  /**
   * The next message to deliver, locked under a fresh token for `lockMs` (a minute unless an HTTPS poll asks for
   * another lock timeout); undefined when there is none. A message delivered more than the maximum count is
   * dead-lettered instead (DeliveryCountExceeded).
   */
  receive(
    deviceId: string,
    nowMs = Date.now(),
    lockMs: number = C2D_LIMITS.lockMs,
  ): CloudToDeviceMessage | undefined {
    this.expire(deviceId, nowMs);
    for (const message of [...(this.queues.get(deviceId) ?? [])]) {
      if (message.lockToken !== undefined) continue;
      if (message.deliveryCount >= C2D_LIMITS.maxDeliveryCount) {
        this.remove(message, 'DeliveryCountExceeded');
        continue;
      }
      message.deliveryCount++;
      message.lockToken = randomUUID();
      message.lockedUntilMs = nowMs + lockMs;
      this.emit('changed');
      return message;
    }
    return undefined;
  }

  /** The device completed the message: it is gone, with Success feedback. */
  complete(deviceId: string, lockToken: string): void {
    this.remove(this.locked(deviceId, lockToken), 'Success');
  }

  /** The device rejected the message: dead-lettered, with Rejected feedback. */
  reject(deviceId: string, lockToken: string): void {
    this.remove(this.locked(deviceId, lockToken), 'Rejected');
  }

  /** The device abandoned the message (or its connection ended): back in the queue, delivered again later. */
  abandon(deviceId: string, lockToken: string): void {
    this.unlock(this.locked(deviceId, lockToken));
  }

  /** Deletes every pending message of a device (`DELETE /devices/{id}/commands`); returns how many. */
  purge(deviceId: string): number {
    const queue = [...(this.queues.get(deviceId) ?? [])];
    for (const message of queue) this.remove(message, 'Purged');
    return queue.length;
  }

  /** Forgets a deleted device's messages (no feedback: the device is gone). */
  forget(deviceId: string): void {
    if (this.queues.delete(deviceId)) this.emit('changed');
  }

  /** Returns expired locks to the queue and dead-letters expired messages, for every device. */
  sweep(nowMs = Date.now()): void {
    for (const [deviceId, queue] of this.queues) {
      this.expire(deviceId, nowMs);
      for (const message of queue) {
        if (message.lockedUntilMs !== undefined && message.lockedUntilMs <= nowMs) this.unlock(message);
      }
    }
  }

  private expire(deviceId: string, nowMs: number): void {
    for (const message of [...(this.queues.get(deviceId) ?? [])]) {
      if (message.expiryTimeMs <= nowMs) this.remove(message, 'Expired');
    }
  }

  private locked(deviceId: string, lockToken: string): CloudToDeviceMessage {
    const message = this.queues.get(deviceId)?.find((candidate) => candidate.lockToken === lockToken);
    if (!message) {
      throw hubErrors.deviceMessageLockLost(
        `No message of device ${JSON.stringify(deviceId)} is locked with this token: it was settled already, or its lock expired and it went back to the queue.`,
      );
    }
    return message;
  }

  private unlock(message: CloudToDeviceMessage): void {
    message.lockToken = undefined;
    message.lockedUntilMs = undefined;
    this.emit('changed');
    this.emit('available', message.deviceId);
  }

  private remove(message: CloudToDeviceMessage, status: FeedbackStatus): void {
    const queue = this.queues.get(message.deviceId);
    const index = queue?.indexOf(message) ?? -1;
    if (!queue || index < 0) return;
    queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(message.deviceId);
    this.emit('changed');
    this.emit('settled', { message, status });
  }

  private queueOf(deviceId: string): CloudToDeviceMessage[] {
    let queue = this.queues.get(deviceId);
    if (!queue) {
      queue = [];
      this.queues.set(deviceId, queue);
    }
    return queue;
  }
}

function systemValues(input: NewCloudToDeviceMessage): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries({
    messageId: input.messageId,
    correlationId: input.correlationId,
    userId: input.userId,
    contentType: input.contentType,
    contentEncoding: input.contentEncoding,
  })) {
    if (value !== undefined) values[name] = value;
  }
  return values;
}
