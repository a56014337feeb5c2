import { resolve } from 'node:path';
import { redactSecrets } from '../../src/lib/redact';
import {
  findEventHubTrigger,
  resolveEventHubTrigger,
  type EventHubTriggerTarget,
} from './eventhub-connection';
import { EventHubListener } from './eventhub-listener';
import { parseEventHubsOptions, type EventHubsOptions } from './eventhub-options';
import { FileCheckpointStore } from './file-checkpoint-store';
import type { RegisteredFunction } from '../host/functions-core-shim';
import type { JsonObject } from '../host/host-config';

/** App setting: where checkpoints and partition ownership are kept (relative paths: from the project). */
export const CHECKPOINT_DIR_SETTING = 'LOCAL_HOST_CHECKPOINT_DIR';
/** Next to the emulator's data (`npm start` passes the emulator's own data directory + /checkpoints). */
export const DEFAULT_CHECKPOINT_DIR = '.iothub-emulator/checkpoints';

export interface EventHubFunctionSummary {
  readonly name: string;
  readonly listening: boolean;
  /** Set when listening. */
  readonly target?: EventHubTriggerTarget;
  /** Why it is not listening. */
  readonly problem?: string;
}

export interface EventHubTriggers {
  readonly listeners: readonly EventHubListener[];
  readonly summaries: readonly EventHubFunctionSummary[];
  readonly checkpointDir: string | undefined;
}

/**
 * Starts a listener for every Event Hub-triggered function. A function whose settings cannot be resolved is
 * reported (naming the setting) and left out; the others, and the HTTP functions, keep running.
 */
export function startEventHubTriggers(init: {
  readonly functions: readonly RegisteredFunction[];
  readonly settings: Readonly<Record<string, string>>;
  readonly hostConfig: JsonObject;
  readonly projectDir: string;
  readonly log: (line: string) => void;
}): EventHubTriggers {
  const { log, settings } = init;
  const functions = init.functions.filter((fn) => findEventHubTrigger(fn) !== undefined);
  if (functions.length === 0) return { listeners: [], summaries: [], checkpointDir: undefined };
  const notStarted = (name: string, message: string): EventHubFunctionSummary => {
    // Messages name their function for other callers; here the line already does.
    const problem = message.startsWith(`Function ${name}: `)
      ? message.slice(`Function ${name}: `.length)
      : message;
    log(`[host] Function ${name} is not started: ${problem}`);
    return { name, listening: false, problem };
  };

  let options: EventHubsOptions;
  try {
    const parsed = parseEventHubsOptions(init.hostConfig);
    for (const warning of parsed.warnings) log(`[host] ${warning}`);
    options = parsed.options;
  } catch (error) {
    const problem = (error as Error).message;
    return {
      listeners: [],
      summaries: functions.map((fn) => notStarted(fn.name, problem)),
      checkpointDir: undefined,
    };
  }

  const checkpointDir = resolve(init.projectDir, settings[CHECKPOINT_DIR_SETTING] ?? DEFAULT_CHECKPOINT_DIR);
  const checkpointStore = new FileCheckpointStore(checkpointDir);
  const listeners: EventHubListener[] = [];
  const summaries: EventHubFunctionSummary[] = [];
  const readers = new Map<string, string>();
  for (const fn of functions) {
    let target: EventHubTriggerTarget;
    try {
      target = resolveEventHubTrigger(fn, settings);
    } catch (error) {
      summaries.push(notStarted(fn.name, redactSecrets((error as Error).message)));
      continue;
    }
    for (const note of target.notes) log(`[host] Function ${fn.name}: ${note}`);
    if (fn.retryOptions !== undefined) {
      log(
        `[host] Function ${fn.name}: its retry policy is not applied by the local host (a failed batch is not retried).`,
      );
    }
    const reader = `${target.connection.fullyQualifiedNamespace}/${target.eventHubName}/${target.consumerGroup}`;
    const other = readers.get(reader.toLowerCase());
    if (other) {
      // As in Azure: the two share checkpoints and split the partitions between them.
      log(
        `[host] Functions ${other} and ${fn.name} read Event Hub ${target.eventHubName} with the same consumer group ${target.consumerGroup}: each gets only some partitions. Give each its own consumer group.`,
      );
    }
    readers.set(reader.toLowerCase(), fn.name);
    let listener: EventHubListener;
    try {
      listener = new EventHubListener({ target, handler: fn.handler, options, checkpointStore, log });
      listener.start();
    } catch (error) {
      summaries.push(notStarted(fn.name, redactSecrets((error as Error).message)));
      continue;
    }
    listeners.push(listener);
    summaries.push({ name: fn.name, listening: true, target });
    log(
      `[host] Function ${fn.name}: Event Hub ${target.eventHubName} at ${target.connection.fullyQualifiedNamespace}` +
        ` (connection ${target.connection.setting}, consumer group ${target.consumerGroup}, cardinality ${target.cardinality}` +
        `${target.cardinality === 'many' ? `, up to ${options.maxEventBatchSize} events per batch` : ''}).`,
    );
  }
  return { listeners, summaries, checkpointDir };
}
