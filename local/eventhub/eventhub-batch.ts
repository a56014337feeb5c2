import { randomUUID } from 'node:crypto';

/**
 * Shapes received events into what an Event Hub-triggered Node.js v4 function receives from the real Functions
 * host: the trigger input (bodies) and `context.triggerMetadata`. The real pipeline has three stages, reproduced
 * here in order:
 *
 * 1. the Event Hubs extension's binding data (EventHubTriggerBindingStrategy): `PartitionContext`,
 *    `PartitionKeyArray`, `OffsetArray`, `SequenceNumberArray`, `EnqueuedTimeUtcArray`, `PropertiesArray`,
 *    `SystemPropertiesArray` (the singular names for cardinality one), where system properties are the AMQP
 *    message annotations (x-opt-*, iothub-*) and properties section, plus `SequenceNumber`, `Offset`,
 *    `PartitionKey` and `EnqueuedTimeUtc`; the host adds `sys`;
 * 2. the host's conversion to the worker's RPC types: string arrays become collection_string, dates and
 *    dictionaries JSON;
 * 3. @azure/functions v4 (fromRpcTypedData, fromRpcTriggerMetadata): every collection_string item goes through
 *    JSON.parse when it parses, and every key of the metadata, at every depth, gets its first letter lower-cased
 *    (`SequenceNumber` -> `sequenceNumber`; `iothub-connection-device-id` unchanged; application property `Kind`
 *    -> `kind`).
 *
 * Bodies, by the binding's dataType: `binary` gives Buffers; `string` gives each body decoded as UTF-8 and then,
 * like any string the v4 library receives, JSON-parsed when it parses (so a JSON body arrives as an object even
 * with dataType string); no dataType with cardinality many makes the host bind the batch as objects through
 * Json.NET, so one body that is not JSON fails the whole invocation with the host's binding error; no dataType with
 * cardinality one binds a string (JSON-parsed when it parses).
 */

/** One received event, reduced to what the trigger needs (see fromReceivedEvent in eventhub-listener.ts). */
export interface EventRecord {
  readonly body: Buffer;
  readonly sequenceNumber: number;
  readonly offset: string;
  readonly enqueuedTimeUtc: Date;
  readonly partitionKey: string | null;
  /** AMQP application properties: for IoT Hub, the device's user properties. */
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  /** AMQP message annotations as sent by the hub (x-opt-sequence-number, iothub-connection-device-id, ...). */
  readonly messageAnnotations: Readonly<Record<string, unknown>>;
  /** The AMQP properties section, under the names .NET gives them (message-id, content-type, ...). */
  readonly amqpProperties: Readonly<Record<string, unknown>>;
}

export interface PartitionInfo {
  readonly fullyQualifiedNamespace: string;
  readonly eventHubName: string;
  readonly consumerGroup: string;
  readonly partitionId: string;
}

export interface ShapeOptions {
  readonly functionName: string;
  readonly bindingName: string;
  readonly dataType: 'string' | 'binary' | 'stream' | undefined;
  /** For `sys.utcNow`. */
  readonly now?: Date;
  /** For `sys.randGuid`. */
  readonly randomGuid?: string;
}

export interface TriggerInvocation {
  /** The handler's first argument. */
  readonly input: unknown;
  readonly triggerMetadata: Record<string, unknown>;
}

/** The host could not bind the trigger input; the invocation fails without calling the handler. */
export class BindingError extends Error {
  override readonly name = 'BindingError';
}

/** cardinality 'many': one invocation for the whole batch. */
export function shapeBatch(
  events: readonly EventRecord[],
  partition: PartitionInfo,
  options: ShapeOptions,
): TriggerInvocation {
  const bindingData: Record<string, unknown> = {
    PartitionContext: partitionContext(partition),
    PartitionKeyArray: events.map((e) => (e.partitionKey === null ? null : tryJsonParse(e.partitionKey))),
    OffsetArray: events.map((e) => tryJsonParse(e.offset)),
    SequenceNumberArray: events.map((e) => e.sequenceNumber),
    EnqueuedTimeUtcArray: events.map((e) => e.enqueuedTimeUtc.toISOString()),
    PropertiesArray: events.map((e) => toJsonValue(e.applicationProperties)),
    SystemPropertiesArray: events.map(systemProperties),
    sys: sys(options),
  };
  return { input: batchInput(events, options), triggerMetadata: toWorkerMetadata(bindingData) };
}

/** cardinality 'one': one invocation per event. */
export function shapeSingle(
  event: EventRecord,
  partition: PartitionInfo,
  options: ShapeOptions,
): TriggerInvocation {
  const bindingData: Record<string, unknown> = {
    PartitionContext: partitionContext(partition),
    PartitionKey: event.partitionKey,
    Offset: tryJsonParse(event.offset),
    SequenceNumber: event.sequenceNumber,
    EnqueuedTimeUtc: event.enqueuedTimeUtc.toISOString(),
    Properties: toJsonValue(event.applicationProperties),
    SystemProperties: systemProperties(event),
    sys: sys(options),
  };
  const input =
    options.dataType === 'binary' ? Buffer.from(event.body) : tryJsonParse(event.body.toString('utf8'));
  return { input, triggerMetadata: toWorkerMetadata(bindingData) };
}

function batchInput(events: readonly EventRecord[], options: ShapeOptions): unknown[] {
  if (options.dataType === 'binary') return events.map((e) => Buffer.from(e.body));
  if (options.dataType === 'string') return events.map((e) => tryJsonParse(e.body.toString('utf8')));
  return events.map((e) => {
    const text = e.body.toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      // The host's own message (Microsoft.Azure.WebJobs.Host), plus what to do about it.
      throw new BindingError(
        `Exception binding parameter '${options.bindingName}'. Binding parameters to complex objects (such as 'Object') uses Json.NET serialization. ` +
          `The JSON parser failed on the event with sequence number ${e.sequenceNumber}: ${(error as Error).message}. ` +
          `With cardinality 'many', add dataType: 'string' (or 'binary') to the trigger of ${options.functionName} to receive bodies that are not JSON.`,
      );
    }
  });
}

function partitionContext(partition: PartitionInfo): Record<string, unknown> {
  return {
    FullyQualifiedNamespace: partition.fullyQualifiedNamespace,
    EventHubName: partition.eventHubName,
    ConsumerGroup: partition.consumerGroup,
    PartitionId: partition.partitionId,
  };
}

function systemProperties(event: EventRecord): unknown {
  return toJsonValue({
    ...event.messageAnnotations,
    ...event.amqpProperties,
    SequenceNumber: event.sequenceNumber,
    Offset: tryJsonParse(event.offset),
    PartitionKey: event.partitionKey,
    EnqueuedTimeUtc: event.enqueuedTimeUtc,
  });
}

function sys(options: ShapeOptions): Record<string, unknown> {
  return {
    MethodName: options.functionName,
    UtcNow: (options.now ?? new Date()).toISOString(),
    RandGuid: options.randomGuid ?? randomUUID(),
  };
}

/** Stage 3: what @azure/functions v4 makes of the metadata (fromRpcTriggerMetadata). */
function toWorkerMetadata(bindingData: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(bindingData))
    result[toCamelCaseKey(key)] = toCamelCaseValue(value);
  return result;
}

/** @azure/functions' toCamelCase: the first letter of every key, at every depth, lower-cased. */
export function toCamelCaseKey(key: string): string {
  return key.charAt(0).toLowerCase() + key.slice(1);
}

function toCamelCaseValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(toCamelCaseValue);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) result[toCamelCaseKey(key)] = toCamelCaseValue(item);
  return result;
}

/** What a value looks like after the host serialises it to JSON (Json.NET): dates as ISO text, bytes as base64. */
export function toJsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (typeof value === 'object') {
    const result: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) result[key] = toJsonValue(item);
    return result;
  }
  return value;
}

/** The v4 library's tryJsonParse: strings that parse as JSON arrive parsed. */
export function tryJsonParse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
