/**
 * Reading the Event Hub trigger's metadata as the Functions host sends it with `cardinality: 'many'` (the Event
 * Hubs extension's EventHubTriggerBindingStrategy: `SystemPropertiesArray`, `PropertiesArray`,
 * `EnqueuedTimeUtcArray`, `SequenceNumberArray`, `OffsetArray`, `PartitionContext`; the Node library lower-cases
 * their first letter), one event at a time.
 */

/** The trigger metadata that belongs to one event of a batch, not yet interpreted. */
export interface EventMetadata {
  readonly systemProperties: Readonly<Record<string, unknown>>;
  readonly applicationProperties: Readonly<Record<string, unknown>>;
  readonly enqueuedTimeUtc: unknown;
  readonly sequenceNumber: unknown;
  readonly offset: unknown;
  readonly partitionId: unknown;
}

export const EMPTY_METADATA: EventMetadata = {
  systemProperties: {},
  applicationProperties: {},
  enqueuedTimeUtc: undefined,
  sequenceNumber: undefined,
  offset: undefined,
  partitionId: undefined,
};

/**
 * The events of one invocation. With `cardinality: 'many'` the host passes an array of bodies; a trigger
 * misconfigured as `cardinality: 'one'` passes a single body (and singular metadata such as `systemProperties`),
 * which is then a batch of one, even when that body is itself a JSON array the host already parsed.
 */
export function batchBodies(messages: unknown, triggerMetadata: unknown): readonly unknown[] {
  try {
    if (!Array.isArray(messages)) return [messages];
    const metadata = asRecord(triggerMetadata);
    const single =
      field(metadata, 'systemPropertiesArray') === undefined &&
      field(metadata, 'systemProperties') !== undefined;
    return single ? [messages] : (messages as unknown[]);
  } catch {
    return [messages];
  }
}

/**
 * Picks event `index`'s entries from the trigger's metadata arrays (`systemPropertiesArray`, `propertiesArray`,
 * ...). A missing or short array leaves that event's entry empty. Keys are matched exactly first, then ignoring
 * case: the Node library lower-cases only their first letter, and other hosts may not at all.
 */
export function eventMetadataAt(triggerMetadata: unknown, index: number, batchSize: number): EventMetadata {
  try {
    const metadata = asRecord(triggerMetadata);
    const entry = (name: string): unknown => {
      const values = field(metadata, `${name}Array`);
      if (Array.isArray(values)) return (values as unknown[])[index];
      // cardinality 'one' sends the singular form; it can only describe a batch of one.
      return values === undefined && batchSize === 1 ? field(metadata, name) : undefined;
    };
    return {
      systemProperties: asRecord(entry('systemProperties')),
      applicationProperties: asRecord(entry('properties')),
      enqueuedTimeUtc: entry('enqueuedTimeUtc'),
      sequenceNumber: entry('sequenceNumber'),
      offset: entry('offset'),
      partitionId: field(asRecord(field(metadata, 'partitionContext')), 'partitionId'),
    };
  } catch {
    return EMPTY_METADATA;
  }
}

export function asRecord(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** The key of `record` equal to `name`, else the first one equal ignoring case. */
export function matchingKey(record: Readonly<Record<string, unknown>>, name: string): string | undefined {
  if (Object.hasOwn(record, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(record).find((key) => key.toLowerCase() === lower);
}

export function field(record: Readonly<Record<string, unknown>>, name: string): unknown {
  const key = matchingKey(record, name);
  return key === undefined ? undefined : record[key];
}
