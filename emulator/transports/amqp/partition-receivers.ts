import { types, type Connection, type Sender } from 'rhea';
import { entityPath } from '../../hub/auth/event-hub-auth';
import type { IotHub } from '../../hub/hub';
import type { ClaimStore } from './claims';
import type { ConsumerRegistry, LinkRefusal } from './consumer-registry';
import { completeAttach, localAttach, remoteTermini } from './link-internals';
import { PartitionConsumer } from './partition-consumer';
import { parseSelector, SELECTOR_FILTER_KEY, SelectorError } from './selector';
import { describeClientValue } from './client-values';
import { addressText } from './client-values';

const RUNTIME_METRIC_CAPABILITY = 'com.microsoft:enable-receiver-runtime-metric';
const EPOCH_PROPERTY = 'com.microsoft:epoch';
/** The entity path, alone or in a full URL (`amqps://host:port/<hub>/...`, as uamqp and pyamqp write it). */
const PARTITION_ADDRESS = /^(?:amqps?:\/\/[^/]+)?\/?([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i;

/**
 * Admits a client's receiver link on `<hub>/ConsumerGroups/<group>/Partitions/<id>` as Event Hubs does, or says
 * why not: the entity, the consumer group and the partition must exist, a claim must cover the path, the selector
 * filter must parse, the epoch be whole, and the epoch rules of the consumer registry allow it. An admitted link
 * gets its terminus echoed (a null one would mean "refused"), pre-settled delivery, and what it asked for
 * (runtime metrics, its epoch).
 */
export function admitPartitionReceiver(
  hub: IotHub,
  claims: ClaimStore,
  registry: ConsumerRegistry<PartitionConsumer>,
  sender: Sender,
  connection: Connection,
): LinkRefusal | undefined {
  const source = sender.source as { address?: unknown; filter?: Record<string, unknown> } | undefined;
  const address = addressText(source?.address);
  const match = PARTITION_ADDRESS.exec(address);
  const [, hubName = '', group = '', partitionId = ''] = match ?? [];
  if (!match || hubName.toLowerCase() !== hub.hubName.toLowerCase()) {
    return {
      condition: 'amqp:not-found',
      description: `The messaging entity "${address}" could not be found. Read from ${hub.hubName}/ConsumerGroups/<group>/Partitions/<id>.`,
    };
  }
  const groups = ['$default', ...hub.consumerGroups.map((name) => name.toLowerCase())];
  if (!groups.includes(group.toLowerCase())) {
    return {
      condition: 'amqp:not-found',
      // "The messaging entity ... could not be found" is how the .NET client recognises a permanent not-found.
      description: `The messaging entity '${address}' could not be found: the consumer group "${group}" does not exist on "${hubName}". Groups: ${groups.join(', ')}.`,
    };
  }
  const partition = hub.telemetry.partition(partitionId);
  if (!partition) {
    return {
      condition: 'com.microsoft:argument-out-of-range',
      description: `The partition "${partitionId}" does not exist: use 0 to ${hub.telemetry.partitionCount - 1}.`,
    };
  }
  const path = entityPath(address);
  const denied = claims.check(connection, path);
  if (denied) return denied;
  let start: number;
  try {
    start = partition.resolve(parseSelector(readSelector(source?.filter)));
  } catch (error) {
    if (!(error instanceof SelectorError)) throw error;
    return { condition: 'amqp:invalid-field', description: error.message };
  }
  const epoch = readEpoch(sender.properties as Record<string, unknown> | undefined);
  if (epoch !== undefined && !Number.isSafeInteger(epoch)) {
    return {
      condition: 'amqp:invalid-field',
      description: `The epoch (owner level) must be a whole number; got ${describeClientValue(epoch, 40)}.`,
    };
  }
  const wantsMetrics = capabilities(sender.desired_capabilities).includes(RUNTIME_METRIC_CAPABILITY);
  const key = `${group.toLowerCase()}/${partition.partitionId}`;
  const consumer = new PartitionConsumer(sender, key, partition, start, epoch, wantsMetrics, () =>
    claims.check(connection, path),
  );
  const refusal = registry.admit(key, consumer);
  if (refusal) return refusal;
  sender.set_source({ address, filter: source?.filter });
  // The client's own target echoed, every field written: clients read both termini, by position.
  const { target } = remoteTermini(sender);
  if (target) sender.set_target(target as Parameters<typeof sender.set_target>[0]);
  completeAttach(sender);
  localAttach(sender).snd_settle_mode = 1; // events go pre-settled: nothing to acknowledge, as with Event Hubs
  if (wantsMetrics) localAttach(sender).offered_capabilities = RUNTIME_METRIC_CAPABILITY;
  if (epoch !== undefined) localAttach(sender).properties = { [EPOCH_PROPERTY]: types.wrap_long(epoch) };
  consumer.wake();
  return undefined;
}

function readSelector(filter: Record<string, unknown> | undefined): string | undefined {
  const entry = filter?.[SELECTOR_FILTER_KEY];
  if (entry === undefined) return undefined;
  // rhea gives the described value as is, or unwrapped.
  const value = typeof entry === 'object' && entry !== null && 'value' in entry ? entry.value : entry;
  return typeof value === 'string'
    ? value
    : Buffer.isBuffer(value)
      ? value.toString('utf8')
      : describeClientValue(value);
}

function readEpoch(properties: Record<string, unknown> | undefined): number | undefined {
  const epoch = properties?.[EPOCH_PROPERTY];
  if (epoch === undefined || epoch === null) return undefined;
  if (typeof epoch === 'number') return epoch;
  if (Buffer.isBuffer(epoch) && epoch.length === 8) return Number(epoch.readBigInt64BE());
  // Anything else (a string, a map) is not an epoch: NaN is refused by the caller, without calling the value.
  return typeof epoch === 'bigint' ? Number(epoch) : Number.NaN;
}

function capabilities(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}
