import { types } from 'rhea';
import type { EventStore } from '../../hub/telemetry/event-store';
import type { RequestReply } from './request-reply';
import { describeClientValue } from './client-values';

export interface ManagementContext {
  readonly hubName: string;
  readonly createdAt: Date;
  readonly store: EventStore;
}

const fail = (statusCode: number, errorCondition: string, statusDescription: string): RequestReply => ({
  statusCode,
  errorCondition,
  statusDescription,
});

/**
 * `$management` READ for the hub and its partitions, with the exact AMQP types the clients cast to: .NET reads
 * `partition_ids` as string[] (an AMQP array, not a list), sequence numbers as long, times as timestamps.
 * The caller has checked authorization.
 */
export function readManagementRequest(
  context: ManagementContext,
  properties: Readonly<Record<string, unknown>>,
): RequestReply {
  const operation = properties.operation;
  if (operation !== 'READ') {
    return fail(
      400,
      'amqp:not-implemented',
      `The operation "${describeClientValue(operation, 40)}" is not supported; use READ.`,
    );
  }
  const name = properties.name;
  if (typeof name !== 'string' || name.toLowerCase() !== context.hubName.toLowerCase()) {
    return fail(
      404,
      'amqp:not-found',
      `The messaging entity "${describeClientValue(name)}" could not be found.`,
    );
  }
  const type = properties.type;
  if (type === 'com.microsoft:eventhub') {
    return {
      statusCode: 200,
      statusDescription: 'OK',
      body: {
        name: context.hubName,
        type: 'com.microsoft:eventhub',
        created_at: types.wrap_timestamp(context.createdAt.getTime()),
        partition_count: types.wrap_int(context.store.partitionCount),
        partition_ids: types.wrap_array(
          context.store.partitions.map((partition) => partition.partitionId),
          0xa1,
          undefined,
        ),
      },
    };
  }
  if (type === 'com.microsoft:partition') {
    const partitionId = properties.partition;
    const partition = typeof partitionId === 'string' ? context.store.partition(partitionId) : undefined;
    if (!partition) {
      return fail(
        400,
        'com.microsoft:argument-out-of-range',
        `The partition "${describeClientValue(partitionId, 40)}" does not exist: use 0 to ${context.store.partitionCount - 1}.`,
      );
    }
    const info = partition.properties();
    return {
      statusCode: 200,
      statusDescription: 'OK',
      body: {
        name: context.hubName,
        type: 'com.microsoft:partition',
        partition: partition.partitionId,
        begin_sequence_number: types.wrap_long(info.beginSequenceNumber),
        last_enqueued_sequence_number: types.wrap_long(info.lastEnqueuedSequenceNumber),
        last_enqueued_offset: info.lastEnqueuedOffset,
        last_enqueued_time_utc: types.wrap_timestamp(info.lastEnqueuedTimeUtc.getTime()),
        is_partition_empty: info.isEmpty,
      },
    };
  }
  return fail(
    400,
    'amqp:not-implemented',
    `The entity type "${describeClientValue(type, 80)}" is not supported.`,
  );
}
