import {
  C2D_LIMITS,
  CloudToDeviceQueues,
  type NewCloudToDeviceMessage,
  type Settlement,
} from '../../../../hub/c2d/cloud-to-device';
import { FeedbackQueue, FEEDBACK_LIMITS } from '../../../../hub/c2d/feedback';
import { HubError } from '../../../../hub/errors';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function message(n: number, overrides: Partial<NewCloudToDeviceMessage> = {}): NewCloudToDeviceMessage {
  return {
    messageId: `m${n}`,
    ack: 'full',
    properties: { n: String(n) },
    body: Buffer.from(`body ${n}`),
    ...overrides,
  };
}

function queuesWithLog() {
  const queues = new CloudToDeviceQueues();
  const settled: { id: string | undefined; status: string }[] = [];
  queues.on('settled', ({ message: settledMessage, status }: Settlement) => {
    settled.push({ id: settledMessage.messageId, status });
  });
  return { queues, settled };
}

function errorOf(action: () => unknown): HubError {
  try {
    action();
  } catch (error) {
    if (error instanceof HubError) return error;
    throw error;
  }
  throw new Error('expected a HubError');
}

describe('cloud-to-device queues (IoT Hub limits and message states)', () => {
  it('delivers in order, each under a fresh lock, and completes by lock token (Success)', () => {
    const { queues, settled } = queuesWithLog();
    queues.enqueue('dev', message(1), T0);
    queues.enqueue('dev', message(2), T0);
    const first = queues.receive('dev', T0);
    const second = queues.receive('dev', T0);
    expect([first?.messageId, second?.messageId]).toEqual(['m1', 'm2']);
    expect(first?.lockToken).not.toEqual(second?.lockToken);
    expect(queues.receive('dev', T0)).toBeUndefined();
    queues.complete('dev', second?.lockToken ?? '');
    expect(settled).toEqual([{ id: 'm2', status: 'Success' }]);
    expect(queues.pendingCount('dev')).toBe(1);
  });

  it('refuses a 51st pending message with 403004 DeviceMaximumQueueDepthExceeded', () => {
    const { queues } = queuesWithLog();
    for (let n = 0; n < C2D_LIMITS.maxPending; n++) queues.enqueue('dev', message(n), T0);
    expect(errorOf(() => queues.enqueue('dev', message(99), T0))).toMatchObject({
      httpStatus: 403,
      errorCode: 403004,
      codeName: 'DeviceMaximumQueueDepthExceeded',
    });
    // Delivered but not settled still counts; settled frees a place.
    const delivered = queues.receive('dev', T0);
    expect(() => queues.enqueue('dev', message(99), T0)).toThrow(HubError);
    queues.complete('dev', delivered?.lockToken ?? '');
    expect(() => queues.enqueue('dev', message(99), T0)).not.toThrow();
  });

  it('refuses a message over 64 KB (body and properties) with 413', () => {
    const { queues } = queuesWithLog();
    const body = Buffer.alloc(64 * 1024 - 10);
    expect(() =>
      queues.enqueue('dev', message(1, { body, properties: {}, messageId: 'x' }), T0),
    ).not.toThrow();
    expect(
      errorOf(() => queues.enqueue('dev', message(2, { body, properties: { key: 'value-value' } }), T0)),
    ).toMatchObject({ httpStatus: 413 });
  });

  it('dead-letters a rejected message (Rejected) and returns an abandoned one to the queue', () => {
    const { queues, settled } = queuesWithLog();
    queues.enqueue('dev', message(1), T0);
    queues.enqueue('dev', message(2), T0);
    const one = queues.receive('dev', T0);
    queues.abandon('dev', one?.lockToken ?? '');
    const again = queues.receive('dev', T0);
    expect(again?.messageId).toBe('m1');
    expect(again?.deliveryCount).toBe(2);
    queues.reject('dev', again?.lockToken ?? '');
    expect(settled).toEqual([{ id: 'm1', status: 'Rejected' }]);
    expect(queues.receive('dev', T0)?.messageId).toBe('m2');
  });

  it('answers a stale lock token with 412002 DeviceMessageLockLost', () => {
    const { queues } = queuesWithLog();
    queues.enqueue('dev', message(1), T0);
    const delivered = queues.receive('dev', T0);
    queues.complete('dev', delivered?.lockToken ?? '');
    expect(
      errorOf(() => {
        queues.complete('dev', delivered?.lockToken ?? '');
      }),
    ).toMatchObject({
      httpStatus: 412,
      errorCode: 412002,
    });
  });

  it(`dead-letters a message delivered ${C2D_LIMITS.maxDeliveryCount} times (DeliveryCountExceeded)`, () => {
    const { queues, settled } = queuesWithLog();
    queues.enqueue('dev', message(1), T0);
    for (let n = 0; n < C2D_LIMITS.maxDeliveryCount; n++) {
      const delivered = queues.receive('dev', T0);
      queues.abandon('dev', delivered?.lockToken ?? '');
    }
    expect(queues.receive('dev', T0)).toBeUndefined();
    expect(settled).toEqual([{ id: 'm1', status: 'DeliveryCountExceeded' }]);
  });

  it('returns a message whose lock expired (a minute) to the queue', () => {
    const { queues } = queuesWithLog();
    queues.enqueue('dev', message(1), T0);
    const firstLock = queues.receive('dev', T0)?.lockToken;
    queues.sweep(T0 + C2D_LIMITS.lockMs - 1);
    expect(queues.receive('dev', T0 + C2D_LIMITS.lockMs - 1)).toBeUndefined();
    queues.sweep(T0 + C2D_LIMITS.lockMs);
    const again = queues.receive('dev', T0 + C2D_LIMITS.lockMs);
    expect(again?.messageId).toBe('m1');
    expect(again?.lockToken).not.toBe(firstLock);
  });

  it('expires messages after their TTL: an hour by default, the given expiry, never past 48 hours', () => {
    const { queues, settled } = queuesWithLog();
    const byDefault = queues.enqueue('dev', message(1), T0);
    const given = queues.enqueue('dev', message(2, { expiryTimeMs: T0 + 5_000 }), T0);
    const capped = queues.enqueue('dev', message(3, { expiryTimeMs: T0 + 100 * 3_600_000 }), T0);
    expect(byDefault.expiryTimeMs).toBe(T0 + 3_600_000);
    expect(given.expiryTimeMs).toBe(T0 + 5_000);
    expect(capped.expiryTimeMs).toBe(T0 + 48 * 3_600_000);
    queues.sweep(T0 + 3_600_000);
    expect(settled).toEqual([
      { id: 'm1', status: 'Expired' },
      { id: 'm2', status: 'Expired' },
    ]);
    expect(queues.receive('dev', T0 + 3_600_000)?.messageId).toBe('m3');
  });

  it('purges every pending message (Purged) and says how many', () => {
    const { queues, settled } = queuesWithLog();
    for (let n = 0; n < 3; n++) queues.enqueue('dev', message(n), T0);
    queues.receive('dev', T0);
    expect(queues.purge('dev')).toBe(3);
    expect(settled.map((entry) => entry.status)).toEqual(['Purged', 'Purged', 'Purged']);
    expect(queues.pendingCount('dev')).toBe(0);
  });

  it('keeps pending messages across a restart, delivered ones back in the queue', () => {
    const { queues } = queuesWithLog();
    queues.enqueue('dev', message(1), T0);
    queues.enqueue('dev', message(2), T0);
    queues.receive('dev', T0);
    const restored = new CloudToDeviceQueues(JSON.parse(JSON.stringify(queues.stored())) as never);
    const first = restored.receive('dev', T0);
    expect(first).toMatchObject({ messageId: 'm1', deliveryCount: 2, body: Buffer.from('body 1') });
    expect(restored.receive('dev', T0)?.messageId).toBe('m2');
  });
});

describe('feedback queue', () => {
  it('gathers records into one message within its window, and completes it by lock token', async () => {
    const feedback = new FeedbackQueue();
    const available = new Promise<void>((resolve) => feedback.once('available', resolve));
    const record = {
      originalMessageId: 'm1',
      description: 'Success',
      deviceGenerationId: 'g',
      deviceId: 'dev',
      enqueuedTimeUtc: new Date(T0).toISOString(),
      statusCode: 'Success' as const,
    };
    feedback.add(record);
    feedback.add({ ...record, originalMessageId: 'm2' });
    await available;
    const batch = feedback.receive();
    expect(batch?.records.map((r) => r.originalMessageId)).toEqual(['m1', 'm2']);
    expect(feedback.receive()).toBeUndefined();
    feedback.complete(batch?.lockToken ?? '');
    expect(feedback.stored()).toEqual([]);
    feedback.close();
  });

  it(`seals a batch at ${FEEDBACK_LIMITS.maxRecordsPerBatch} records without waiting`, () => {
    const feedback = new FeedbackQueue();
    for (let n = 0; n <= FEEDBACK_LIMITS.maxRecordsPerBatch; n++) {
      feedback.add({
        originalMessageId: `m${n}`,
        description: 'Success',
        deviceGenerationId: 'g',
        deviceId: 'dev',
        enqueuedTimeUtc: '',
        statusCode: 'Success',
      });
    }
    expect(feedback.receive()?.records).toHaveLength(FEEDBACK_LIMITS.maxRecordsPerBatch);
    feedback.close();
  });
});
