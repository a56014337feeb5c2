import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  CloseReason,
  earliestEventPosition,
  EventHubConsumerClient,
  latestEventPosition,
  RetryMode,
  type CheckpointStore,
  type EventHubConsumerClientOptions,
  type EventPosition,
  type PartitionContext,
  type ReceivedEventData,
  type Subscription,
} from '@azure/event-hubs';
import { redactSecrets } from '../../src/lib/redact';
import {
  BindingError,
  shapeBatch,
  shapeSingle,
  type PartitionInfo,
  type TriggerInvocation,
} from './eventhub-batch';
import type { EventHubTriggerTarget } from './eventhub-connection';
import { fromReceivedEvent } from './eventhub-event';
import type { EventHubsOptions } from './eventhub-options';
import { createInvocationContext } from '../host/invocation';

export interface EventHubListenerInit {
  readonly target: EventHubTriggerTarget;
  readonly handler: (...args: unknown[]) => unknown;
  readonly options: EventHubsOptions;
  readonly checkpointStore: CheckpointStore;
  readonly log: (line: string) => void;
  /** How long stop() lets running invocations finish (and checkpoint) before closing anyway. */
  readonly drainTimeoutMs?: number;
}

interface PartitionState {
  batchesSinceCheckpoint: number;
  lastProcessed: ReceivedEventData | undefined;
}

// One local host is usually the only reader of a consumer group: claim every partition at once (greedy) rather
// than one per cycle. Ownership expires like the .NET processor's, so that a host that crashed is replaced soon.
const LOAD_BALANCING = {
  strategy: 'greedy',
  updateIntervalInMs: 10_000,
  partitionOwnershipExpirationIntervalInMs: 30_000,
} as const;

/**
 * Runs one Event Hub-triggered function as the Functions host's Event Hubs extension does: an event processor
 * over all partitions (load-balanced through the checkpoint store), the handler called per batch (cardinality
 * many) or per event (one), a checkpoint after every `batchCheckpointFrequency`-th batch of a partition once the
 * handler has returned, whether it succeeded or threw (the host never retries a batch by itself: delivery is
 * at-least-once, and a failed batch is logged and skipped).
 */
export class EventHubListener {
  private readonly client: EventHubConsumerClient;
  private subscription: Subscription | undefined;
  private readonly partitions = new Map<string, PartitionState>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopping = false;
  private stopped: Promise<void> | undefined;
  /** Errors reported since events last flowed (each cycle of the processor repeats them). */
  private readonly reportedErrors = new Set<string>();
  private readonly probeAbort = new AbortController();
  private probing: Promise<void> | undefined;

  constructor(private readonly init: EventHubListenerInit) {
    this.client = createConsumerClient(init.target, init.checkpointStore, init.options);
  }

  get functionName(): string {
    return this.init.target.functionName;
  }

  start(): void {
    const { options, target } = this.init;
    this.subscription = this.client.subscribe(
      {
        processInitialize: (context) => {
          this.partitions.set(context.partitionId, { batchesSinceCheckpoint: 0, lastProcessed: undefined });
          return Promise.resolve();
        },
        processEvents: (events, context) => this.processEvents(events, context),
        processError: (error, context) => {
          this.reportError(error, context.partitionId);
          return Promise.resolve();
        },
        processClose: (reason, context) => this.processClose(reason, context),
      },
      {
        // The extension dispatches single events (cardinality one) from batches of one.
        maxBatchSize: target.cardinality === 'many' ? options.maxEventBatchSize : 1,
        maxWaitTimeInSeconds: options.maxWaitTimeMs / 1000,
        prefetchCount: options.prefetchCount,
        startPosition: startPosition(options),
        skipParsingBodyAsJson: true,
      },
    );
    this.probing = this.probe();
  }

  /**
   * Reads the hub's properties once, with the client's retry options, to say early whether the hub is reachable:
   * the event processor's own calls retry every 30 s (the SDK's default) and report a failure only after minutes.
   */
  private async probe(): Promise<void> {
    try {
      const properties = await this.client.getEventHubProperties({ abortSignal: this.probeAbort.signal });
      this.hostLog(
        `connected to Event Hub ${properties.name} (partitions ${properties.partitionIds.join(', ')}).`,
      );
    } catch (error) {
      if (!this.stopping) this.reportError(error, '');
    }
  }

  /**
   * Stops reading: batches already being handled finish and are checkpointed (up to the drain timeout), batches
   * received from now on are left unacknowledged for the next start; then the subscription and the client close.
   */
  stop(): Promise<void> {
    this.stopped ??= this.close();
    return this.stopped;
  }

  private async close(): Promise<void> {
    this.stopping = true;
    this.probeAbort.abort();
    await this.probing;
    await this.drain(this.init.drainTimeoutMs ?? 30_000);
    try {
      await this.subscription?.close();
    } catch (error) {
      this.hostLog(`closing the subscription failed: ${describe(error)}`);
    }
    try {
      await this.client.close();
    } catch (error) {
      this.hostLog(`closing the Event Hubs client failed: ${describe(error)}`);
    }
  }

  private async drain(timeoutMs: number): Promise<void> {
    if (this.inFlight.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        resolve(true);
      }, timeoutMs);
    });
    const finished = Promise.allSettled([...this.inFlight]).then(() => false);
    if (await Promise.race([finished, timedOut])) {
      this.hostLog(`invocations still running after ${timeoutMs} ms; stopping without checkpointing them.`);
    }
    clearTimeout(timer);
  }

  private async processEvents(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    // The client also calls with no events when maxWaitTime passes without any; the host invokes nothing then.
    if (this.stopping || events.length === 0) return;
    this.reportedErrors.clear();
    const task = this.processBatch(events, context);
    this.inFlight.add(task);
    try {
      await task;
    } finally {
      this.inFlight.delete(task);
    }
  }

  private async processBatch(events: ReceivedEventData[], context: PartitionContext): Promise<void> {
    const { target, options } = this.init;
    let state = this.partitions.get(context.partitionId);
    if (!state) {
      state = { batchesSinceCheckpoint: 0, lastProcessed: undefined };
      this.partitions.set(context.partitionId, state);
    }
    const partition: PartitionInfo = {
      fullyQualifiedNamespace: context.fullyQualifiedNamespace,
      eventHubName: context.eventHubName,
      consumerGroup: context.consumerGroup,
      partitionId: context.partitionId,
    };
    const records = events.map(fromReceivedEvent);
    const shapeOptions = {
      functionName: target.functionName,
      bindingName: target.bindingName,
      dataType: target.dataType,
    };
    if (target.cardinality === 'many') {
      await this.invoke(() => shapeBatch(records, partition, shapeOptions));
    } else {
      for (const record of records) await this.invoke(() => shapeSingle(record, partition, shapeOptions));
    }
    state.batchesSinceCheckpoint++;
    state.lastProcessed = events[events.length - 1];
    if (state.batchesSinceCheckpoint >= options.batchCheckpointFrequency)
      await this.checkpoint(context, state);
  }

  /** One invocation, as the host runs it: a failure (binding or handler) is logged, never rethrown. */
  private async invoke(shape: () => TriggerInvocation): Promise<void> {
    const { target, handler, log } = this.init;
    const name = target.functionName;
    const invocationId = randomUUID();
    const started = performance.now();
    const failed = (error: unknown) => {
      const duration = Math.round(performance.now() - started);
      log(
        `[${name}] error: Executed '${name}' (Failed, Id=${invocationId}, Duration=${duration}ms): ${describe(error)}`,
      );
    };
    let invocation: TriggerInvocation;
    try {
      invocation = shape();
    } catch (error) {
      if (error instanceof BindingError) {
        failed(error);
        return;
      }
      throw error;
    }
    const context = createInvocationContext({
      functionName: name,
      invocationId,
      log,
      triggerMetadata: invocation.triggerMetadata,
      trigger: { name: target.bindingName, binding: target.binding },
    });
    try {
      await handler(invocation.input, context);
    } catch (error) {
      failed(error);
    }
  }

  private async checkpoint(context: PartitionContext, state: PartitionState): Promise<void> {
    if (!state.lastProcessed) return;
    try {
      await context.updateCheckpoint(state.lastProcessed);
      state.batchesSinceCheckpoint = 0;
    } catch (error) {
      this.hostLog(`checkpoint of partition ${context.partitionId} failed: ${describe(error)}`);
    }
  }

  private async processClose(reason: CloseReason, context: PartitionContext): Promise<void> {
    const state = this.partitions.get(context.partitionId);
    this.partitions.delete(context.partitionId);
    // As the extension does on a graceful stop (not when another reader took the partition over): checkpoint the
    // batches handled since the last checkpoint, so that a batchCheckpointFrequency above 1 costs no replay.
    if (reason === CloseReason.Shutdown && state && state.batchesSinceCheckpoint > 0) {
      await this.checkpoint(context, state);
    }
  }

  /**
   * Errors repeat on every load-balancing cycle while, say, the hub is down, and once per partition: report each
   * kind once until events flow again.
   */
  private reportError(error: unknown, partitionId: string): void {
    if (this.stopping && error instanceof Error && error.name === 'AbortError') return;
    const message = describe(error);
    const kind = message.replace(/Partitions\/\d+/g, 'Partitions/*');
    if (this.reportedErrors.has(kind)) return;
    this.reportedErrors.add(kind);
    this.hostLog(`Event Hub error${partitionId ? ` on partition ${partitionId}` : ''}: ${message}`);
  }

  private hostLog(text: string): void {
    this.init.log(`[host] ${this.functionName}: ${text}`);
  }
}

function createConsumerClient(
  target: EventHubTriggerTarget,
  checkpointStore: CheckpointStore,
  options: EventHubsOptions,
): EventHubConsumerClient {
  const retry = options.clientRetry;
  const clientOptions: EventHubConsumerClientOptions = {
    // Becomes the owner id in the checkpoint store: say who owns a partition, unique per start.
    identifier: `${hostname()}-${process.pid}-${target.functionName}-${randomUUID().slice(0, 8)}`,
    loadBalancingOptions: LOAD_BALANCING,
    retryOptions: {
      mode: retry.mode === 'fixed' ? RetryMode.Fixed : RetryMode.Exponential,
      maxRetries: retry.maximumRetries,
      retryDelayInMs: retry.delayMs,
      maxRetryDelayInMs: retry.maximumDelayMs,
      timeoutInMs: retry.tryTimeoutMs,
    },
  };
  const { connection, consumerGroup, eventHubName } = target;
  if (connection.kind === 'identity') {
    return new EventHubConsumerClient(
      consumerGroup,
      connection.fullyQualifiedNamespace,
      eventHubName,
      connection.credential,
      checkpointStore,
      clientOptions,
    );
  }
  // With an EntityPath the client refuses a second, different name (in an error that quotes the connection
  // string): pass the name only when the connection string has none.
  return connection.hasEntityPath
    ? new EventHubConsumerClient(consumerGroup, connection.connectionString, checkpointStore, clientOptions)
    : new EventHubConsumerClient(
        consumerGroup,
        connection.connectionString,
        eventHubName,
        checkpointStore,
        clientOptions,
      );
}

function startPosition(options: EventHubsOptions): EventPosition {
  switch (options.initialOffset.type) {
    case 'fromStart':
      return earliestEventPosition;
    case 'fromEnd':
      return latestEventPosition;
    case 'fromEnqueuedTime':
      return { enqueuedOn: options.initialOffset.enqueuedTimeUtc };
  }
}

/** An error's message with anything that looks like a key or token removed (SDK errors may quote them). */
function describe(error: unknown): string {
  const message = messageOf(error);
  const hint = /ECONNREFUSED/.test(message)
    ? ' (nothing listens there: is the IoT Hub emulator running? npm run emulator, or npm start)'
    : '';
  return redactSecrets(message) + hint;
}

/** The SDK's retries end in an AggregateError (empty message) of each attempt's error. */
function messageOf(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = [...new Set(error.errors.map(messageOf))].join('; ');
    return error.errors.length > 1 ? `${inner} (${error.errors.length} attempts)` : inner;
  }
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
