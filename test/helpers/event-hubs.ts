import {
  EventHubConsumerClient,
  type EventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type SubscribeOptions,
} from '@azure/event-hubs';
import { Message, type Client as DeviceClient } from 'azure-iot-device';

export interface SentTelemetry {
  readonly deviceId: string;
  readonly n: number;
  readonly messageId: string;
}

/** Sends `count` messages with every kind of property the device SDK can set; resolves when all are PUBACKed. */
export async function sendTelemetry(
  device: DeviceClient,
  deviceId: string,
  count: number,
  first = 0,
): Promise<SentTelemetry[]> {
  const sent: SentTelemetry[] = [];
  for (let n = first; n < first + count; n++) {
    const message = new Message(JSON.stringify({ deviceId, n, temperature: 20 + n / 10 }));
    message.messageId = `${deviceId}-m${n}`;
    message.correlationId = `${deviceId}-c${n}`;
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    message.properties.add('temperatureAlert', n % 2 === 0 ? 'true' : 'false');
    message.properties.add('note', `hello & welcome ${n}`);
    await device.sendEvent(message);
    sent.push({ deviceId, n, messageId: message.messageId });
  }
  return sent;
}

export interface Received {
  readonly events: ReceivedEventData[];
  readonly contexts: PartitionContext[];
}

/**
 * Reads one partition from `startPosition` until `count` events arrived (or rejects after `timeoutMs`, with what
 * it got and any errors). Extra options go to `subscribe`.
 */
export async function readPartition(
  client: EventHubConsumerClient,
  partitionId: string,
  startPosition: EventPosition,
  count: number,
  options: Omit<SubscribeOptions, 'startPosition'> & { processEventsHook?: () => void } = {},
  timeoutMs = 20_000,
): Promise<Received> {
  const subscribeOptions: SubscribeOptions = { ...options };
  delete (subscribeOptions as { processEventsHook?: unknown }).processEventsHook;
  const events: ReceivedEventData[] = [];
  const contexts: PartitionContext[] = [];
  const errors: string[] = [];
  let subscription: { close: () => Promise<void> } | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `Got ${events.length} of ${count} events from partition ${partitionId}; errors: ${errors.join('; ')}`,
          ),
        );
      }, timeoutMs);
      subscription = client.subscribe(
        partitionId,
        {
          processEvents: (batch, context) => {
            options.processEventsHook?.();
            events.push(...batch);
            if (batch.length > 0) contexts.push(context);
            if (events.length >= count) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
          processError: (error) => {
            errors.push(error.message);
            return Promise.resolve();
          },
        },
        { maxWaitTimeInSeconds: 1, ...subscribeOptions, startPosition },
      );
    });
  } finally {
    await subscription?.close();
  }
  return { events, contexts };
}

export function bodyOf(event: ReceivedEventData): { deviceId: string; n: number } {
  return event.body as { deviceId: string; n: number };
}
