import type { ReceivedEventData } from '@azure/event-hubs';
import type { EventRecord } from './eventhub-batch';

/** The AMQP properties section under the names .NET's EventData.SystemProperties uses. */
const AMQP_PROPERTY_NAMES = {
  messageId: 'message-id',
  userId: 'user-id',
  to: 'to',
  subject: 'subject',
  replyTo: 'reply-to',
  correlationId: 'correlation-id',
  contentType: 'content-type',
  contentEncoding: 'content-encoding',
  absoluteExpiryTime: 'absolute-expiry-time',
  creationTime: 'creation-time',
  groupId: 'group-id',
  groupSequence: 'group-sequence',
  replyToGroupId: 'reply-to-group-id',
} as const;

/** Times in the AMQP properties section; rhea gives them as milliseconds. */
const TIME_PROPERTIES = new Set(['absoluteExpiryTime', 'creationTime']);

/**
 * Reduces an event from EventHubConsumerClient (subscribed with skipParsingBodyAsJson) to an EventRecord. The
 * client moves x-opt-* annotations out of systemProperties; the raw AMQP message still has them all, which is
 * what the Functions host (on the .NET client) exposes.
 */
export function fromReceivedEvent(event: ReceivedEventData): EventRecord {
  const raw = event.getRawAmqpMessage();
  const amqpProperties: Record<string, unknown> = {};
  for (const [key, name] of Object.entries(AMQP_PROPERTY_NAMES)) {
    const value: unknown = (raw.properties as Record<string, unknown> | undefined)?.[key];
    if (value === undefined || value === null) continue;
    amqpProperties[name] = TIME_PROPERTIES.has(key) && typeof value === 'number' ? new Date(value) : value;
  }
  return {
    body: toBuffer(event.body),
    sequenceNumber: event.sequenceNumber,
    offset: event.offset,
    enqueuedTimeUtc: event.enqueuedTimeUtc,
    partitionKey: typeof event.partitionKey === 'string' ? event.partitionKey : null,
    applicationProperties: raw.applicationProperties ?? {},
    messageAnnotations: raw.messageAnnotations ?? {},
    amqpProperties,
  };
}

/** Data sections arrive as bytes; a value or sequence section (not what IoT Hub sends) is serialised. */
function toBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (body instanceof Uint8Array) return Buffer.from(body);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(body), 'utf8');
}
