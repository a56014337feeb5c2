import { RequestTooLargeError } from './error-mapping';
import { ValidationError } from './errors';
import type { FanOutSettings } from './fan-out-settings';
import { DEVICE_ID_RULE, isValidDeviceId } from './iothub-rules';
import { checkMethodInvocation, type MethodInvocation } from './method-invocation';
import { MAX_CONDITION_LENGTH, MAX_QUERY_LENGTH } from './fan-out-conditions';
import { parseJsonObjectBody } from './json-body';

export type FanOutMode = 'direct' | 'job';

/** Which devices a fan-out reaches: listed ids, or IoT Hub's query condition (what follows WHERE). */
export type FanOutTarget =
  | { readonly kind: 'ids'; readonly deviceIds: readonly string[] }
  | { readonly kind: 'query'; readonly condition: string };

/** A validated fan-out request. No `mode` means: direct when the set is small enough, a job otherwise. */
export interface FanOutRequest {
  readonly target: FanOutTarget;
  readonly invocation: MethodInvocation;
  readonly mode?: FanOutMode;
}

const BODY_FIELDS = new Set([
  'deviceIds',
  'query',
  'payload',
  'responseTimeoutInSeconds',
  'connectTimeoutInSeconds',
  'mode',
]);

/**
 * Validates `POST /api/methods/{methodName}` with body `{deviceIds | query, payload, responseTimeoutInSeconds,
 * connectTimeoutInSeconds, mode}`, with the same rules and error shape as the single-device method function, so a
 * bad request is refused before any device is called.
 */
export function parseFanOutRequest(
  params: Readonly<Record<string, string | undefined>>,
  bodyText: string,
  settings: FanOutSettings,
): FanOutRequest {
  const body = parseBody(bodyText);
  for (const key of Object.keys(body)) {
    if (!BODY_FIELDS.has(key)) {
      throw new ValidationError(
        'UnknownField',
        key,
        `Unknown field ${JSON.stringify(key)}; the body accepts ${[...BODY_FIELDS].join(', ')}.`,
      );
    }
  }
  const { deviceIds, query, mode, ...fields } = body;
  const check = checkMethodInvocation({ ...fields, methodName: params.methodName ?? '' });
  if (!check.ok) throw new ValidationError(check.problem.code, check.problem.field, check.problem.message);
  const target = readTarget(deviceIds, query, settings);
  const readMode = readFanOutMode(mode);
  return { target, invocation: check.invocation, ...(readMode ? { mode: readMode } : {}) };
}

function readTarget(deviceIds: unknown, query: unknown, settings: FanOutSettings): FanOutTarget {
  if ((deviceIds === undefined) === (query === undefined)) {
    throw new ValidationError(
      'InvalidTarget',
      'deviceIds',
      'Give exactly one of deviceIds (a list of device ids) or query (a condition, e.g. "tags.site = \'lab\'").',
    );
  }
  if (query !== undefined) return { kind: 'query', condition: readCondition(query) };
  return { kind: 'ids', deviceIds: readDeviceIds(deviceIds, settings.maxDeviceIds) };
}

function readDeviceIds(value: unknown, max: number): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new ValidationError(
      'InvalidDeviceIds',
      'deviceIds',
      'deviceIds must be a non-empty list of device ids.',
    );
  }
  if (value.length > max) {
    throw new RequestTooLargeError(
      'TooManyDevices',
      'deviceIds',
      `deviceIds lists ${value.length} devices; at most ${max} are accepted (FANOUT_MAX_DEVICE_IDS). ` +
        'For more, select the devices with a query condition.',
    );
  }
  const seen = new Set<string>();
  for (const [index, id] of value.entries()) {
    if (typeof id !== 'string' || !isValidDeviceId(id)) {
      throw new ValidationError(
        'InvalidDeviceId',
        `deviceIds[${index}]`,
        `The device id ${JSON.stringify(typeof id === 'string' ? id.slice(0, 200) : (id ?? null))} is invalid: use ${DEVICE_ID_RULE}.`,
      );
    }
    // A device listed twice would get the method twice and two results under one id.
    if (seen.has(id)) {
      throw new ValidationError(
        'DuplicateDeviceId',
        `deviceIds[${index}]`,
        `The device ${id} is listed twice.`,
      );
    }
    seen.add(id);
  }
  return [...seen];
}

function readCondition(value: unknown): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(
      'InvalidQuery',
      'query',
      "query must be a non-empty condition, what follows WHERE in IoT Hub's query language (e.g. \"tags.site = 'lab'\").",
    );
  }
  if (/^\s*select\s/i.test(value)) {
    throw new ValidationError(
      'InvalidQuery',
      'query',
      'query is only the condition (what follows WHERE), not a whole SELECT statement.',
    );
  }
  if (value.length > MAX_CONDITION_LENGTH) {
    throw new RequestTooLargeError(
      'QueryTooLong',
      'query',
      `The condition is ${value.length} characters; IoT Hub accepts queries of at most ${MAX_QUERY_LENGTH}, so at most ${MAX_CONDITION_LENGTH} here.`,
    );
  }
  return value.trim();
}

function readFanOutMode(value: unknown): FanOutMode | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'direct' || value === 'job') return value;
  throw new ValidationError(
    'InvalidMode',
    'mode',
    'mode must be "direct" or "job" (or absent: chosen by size).',
  );
}

function parseBody(text: string): Record<string, unknown> {
  return parseJsonObjectBody(text, '{"deviceIds": ["device-1"], "payload": 5}');
}
