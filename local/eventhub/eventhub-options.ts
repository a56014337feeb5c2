import { findKey, getSection, HostConfigError, isJsonObject, type JsonObject } from '../host/host-config';

/** Where reading starts in a partition that has no checkpoint yet (host.json `initialOffsetOptions`). */
export type InitialOffset =
  | { readonly type: 'fromStart' }
  | { readonly type: 'fromEnd' }
  | { readonly type: 'fromEnqueuedTime'; readonly enqueuedTimeUtc: Date };

export interface ClientRetryOptions {
  readonly mode: 'exponential' | 'fixed';
  readonly tryTimeoutMs: number;
  readonly delayMs: number;
  readonly maximumDelayMs: number;
  readonly maximumRetries: number;
}

/** host.json `extensions.eventHubs`, as the Event Hubs extension 5.x (extension bundle 4.x) reads it. */
export interface EventHubsOptions {
  readonly maxEventBatchSize: number;
  readonly minEventBatchSize: number;
  readonly maxWaitTimeMs: number;
  readonly batchCheckpointFrequency: number;
  readonly prefetchCount: number;
  readonly initialOffset: InitialOffset;
  readonly clientRetry: ClientRetryOptions;
}

/** The extension's defaults (Microsoft.Azure.WebJobs.Extensions.EventHubs 5.x). */
export const EVENT_HUBS_DEFAULTS: EventHubsOptions = {
  maxEventBatchSize: 100,
  minEventBatchSize: 1,
  maxWaitTimeMs: 60_000,
  batchCheckpointFrequency: 1,
  prefetchCount: 300,
  initialOffset: { type: 'fromStart' },
  clientRetry: {
    mode: 'exponential',
    tryTimeoutMs: 60_000,
    delayMs: 800,
    maximumDelayMs: 60_000,
    maximumRetries: 3,
  },
};

/** Options of the 5.x extension that this local host accepts but does not act on. */
const ACCEPTED_NOT_APPLIED = [
  'transportType',
  'webProxy',
  'customEndpointAddress',
  'targetUnprocessedEventThreshold',
] as const;

const WHERE = 'host.json extensions.eventHubs';

export interface ParsedEventHubsOptions {
  readonly options: EventHubsOptions;
  /** Things worth telling the user that do not stop the host (ignored or unsupported keys). */
  readonly warnings: readonly string[];
}

/**
 * Validates `extensions.eventHubs` of a host configuration (see host-config.ts). Values may be JSON numbers or,
 * when they come from `AzureFunctionsJobHost__...` app settings, strings. Throws HostConfigError naming the key.
 */
export function parseEventHubsOptions(hostConfig: JsonObject): ParsedEventHubsOptions {
  const section = getSection(hostConfig, 'extensions', 'eventHubs');
  if (section === undefined) return { options: EVENT_HUBS_DEFAULTS, warnings: [] };
  if (!isJsonObject(section)) throw new HostConfigError(`${WHERE} must be an object.`);

  const warnings: string[] = [];
  const known = new Set(
    [
      'maxEventBatchSize',
      'minEventBatchSize',
      'maxWaitTime',
      'batchCheckpointFrequency',
      'prefetchCount',
      'initialOffsetOptions',
      'clientRetryOptions',
      ...ACCEPTED_NOT_APPLIED,
    ].map((key) => key.toLowerCase()),
  );
  for (const key of Object.keys(section)) {
    if (!known.has(key.toLowerCase())) {
      const hint = key.toLowerCase() === 'maxbatchsize' ? ' (extension 5.x calls it maxEventBatchSize)' : '';
      warnings.push(`${WHERE}.${key} is not an option of the Event Hubs extension 5.x; ignored${hint}.`);
    }
  }
  for (const key of ACCEPTED_NOT_APPLIED) {
    if (findKey(section, key) !== undefined) {
      warnings.push(`${WHERE}.${key} has no effect on the local host (it connects as the connection says).`);
    }
  }

  const maxEventBatchSize = readInteger(
    section,
    'maxEventBatchSize',
    1,
    EVENT_HUBS_DEFAULTS.maxEventBatchSize,
  );
  const minEventBatchSize = readInteger(
    section,
    'minEventBatchSize',
    1,
    EVENT_HUBS_DEFAULTS.minEventBatchSize,
  );
  if (minEventBatchSize > maxEventBatchSize) {
    throw new HostConfigError(
      `${WHERE}.minEventBatchSize (${minEventBatchSize}) must not exceed maxEventBatchSize (${maxEventBatchSize}).`,
    );
  }
  if (minEventBatchSize > 1) {
    warnings.push(
      `${WHERE}.minEventBatchSize is not applied locally: batches are dispatched as soon as events arrive.`,
    );
  }
  const options: EventHubsOptions = {
    maxEventBatchSize,
    minEventBatchSize,
    maxWaitTimeMs: readTimeSpan(section, 'maxWaitTime', EVENT_HUBS_DEFAULTS.maxWaitTimeMs, WHERE),
    batchCheckpointFrequency: readInteger(
      section,
      'batchCheckpointFrequency',
      1,
      EVENT_HUBS_DEFAULTS.batchCheckpointFrequency,
    ),
    prefetchCount: readInteger(section, 'prefetchCount', 0, EVENT_HUBS_DEFAULTS.prefetchCount),
    initialOffset: readInitialOffset(getSection(section, 'initialOffsetOptions')),
    clientRetry: readClientRetry(getSection(section, 'clientRetryOptions')),
  };
  return { options, warnings };
}

function readInitialOffset(value: unknown): InitialOffset {
  const where = `${WHERE}.initialOffsetOptions`;
  if (value === undefined) return EVENT_HUBS_DEFAULTS.initialOffset;
  if (!isJsonObject(value))
    throw new HostConfigError(`${where} must be an object such as {"type": "fromStart"}.`);
  const type = getSection(value, 'type');
  const typeText = type === undefined ? 'fromStart' : type;
  const types = ['fromStart', 'fromEnd', 'fromEnqueuedTime'] as const;
  const matched = types.find(
    (t) => typeof typeText === 'string' && t.toLowerCase() === typeText.toLowerCase(),
  );
  if (!matched) {
    throw new HostConfigError(
      `${where}.type must be fromStart, fromEnd or fromEnqueuedTime; got ${show(type)}.`,
    );
  }
  if (matched !== 'fromEnqueuedTime') return { type: matched };
  const time = getSection(value, 'enqueuedTimeUtc');
  const parsed = typeof time === 'string' && time.trim() !== '' ? new Date(time) : undefined;
  if (!parsed || Number.isNaN(parsed.getTime())) {
    throw new HostConfigError(
      `${where}.enqueuedTimeUtc must be an ISO 8601 UTC time such as "2024-01-31T12:00:00Z" when type is fromEnqueuedTime; got ${show(time)}.`,
    );
  }
  return { type: 'fromEnqueuedTime', enqueuedTimeUtc: parsed };
}

function readClientRetry(value: unknown): ClientRetryOptions {
  const where = `${WHERE}.clientRetryOptions`;
  const defaults = EVENT_HUBS_DEFAULTS.clientRetry;
  if (value === undefined) return defaults;
  if (!isJsonObject(value)) throw new HostConfigError(`${where} must be an object.`);
  const mode = getSection(value, 'mode');
  let parsedMode = defaults.mode;
  if (mode !== undefined) {
    if (typeof mode !== 'string' || !['exponential', 'fixed'].includes(mode.toLowerCase())) {
      throw new HostConfigError(`${where}.mode must be exponential or fixed; got ${show(mode)}.`);
    }
    parsedMode = mode.toLowerCase() as ClientRetryOptions['mode'];
  }
  return {
    mode: parsedMode,
    tryTimeoutMs: readTimeSpan(value, 'tryTimeout', defaults.tryTimeoutMs, where),
    delayMs: readTimeSpan(value, 'delay', defaults.delayMs, where),
    maximumDelayMs: readTimeSpan(value, 'maximumDelay', defaults.maximumDelayMs, where),
    maximumRetries: readIntegerAt(value, 'maximumRetries', 0, defaults.maximumRetries, where),
  };
}

function readInteger(section: JsonObject, key: string, min: number, fallback: number): number {
  return readIntegerAt(section, key, min, fallback, WHERE);
}

function readIntegerAt(
  section: JsonObject,
  key: string,
  min: number,
  fallback: number,
  where: string,
): number {
  const value = getSection(section, key);
  if (value === undefined) return fallback;
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < min) {
    throw new HostConfigError(
      `${where}.${key} must be a whole number of at least ${min}; got ${show(value)}.`,
    );
  }
  return number;
}

/**
 * A .NET TimeSpan in its usual host.json form, `[d.]hh:mm:ss[.fffffff]`, in milliseconds. Must be positive.
 */
export function parseTimeSpan(text: string): number | undefined {
  const match = /^\s*(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?\s*$/.exec(text);
  if (!match) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  if (Number(hours) > 23 || Number(minutes) > 59 || Number(seconds) > 59) return undefined;
  const fractionMs = fraction === '' ? 0 : Number(`0.${fraction}`) * 1000;
  return (
    ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 +
    Number(seconds) * 1000 +
    fractionMs
  );
}

function readTimeSpan(section: JsonObject, key: string, fallback: number, where: string): number {
  const value = getSection(section, key);
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' ? parseTimeSpan(value) : undefined;
  if (ms === undefined || ms <= 0) {
    throw new HostConfigError(
      `${where}.${key} must be a positive time span such as "00:01:00" (hh:mm:ss); got ${show(value)}.`,
    );
  }
  return ms;
}

function show(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}
