import { checkMethodInvocation } from '../../../src/lib/method-invocation';
import { hubErrors } from '../errors';
import { DEVICE_ID_RULE, isValidDeviceId } from '../identifiers';
import { parseCondition } from '../query/parse-query';
import { readServiceChange } from '../twins/twin-requests';
import { TwinPatchError } from '../twins/twin-properties';
import type { JobSpec } from './job-types';

/** What the SDKs send when the caller gives no limit (azure-iothub JobClient's default). */
export const DEFAULT_MAX_EXECUTION_SECONDS = 3600;
/** The longest a job may be allowed to run: a week, far beyond what IoT Hub keeps a job's history for. */
const MAX_EXECUTION_SECONDS = 7 * 24 * 3600;

/**
 * Reads `PUT /jobs/v2/{jobId}`: `{jobId, type, queryCondition, startTime, maxExecutionTimeInSeconds,
 * cloudToDeviceMethod | updateTwin}`. Every field is checked here, so that a job that starts later cannot fail for
 * what its request said; throws HubError 400 naming the field.
 */
export function readJobRequest(jobId: string, body: unknown, now: Date): JobSpec {
  if (!isValidDeviceId(jobId)) {
    throw hubErrors.argumentInvalid(
      `Invalid job id ${JSON.stringify(jobId.slice(0, 200))}: use ${DEVICE_ID_RULE}.`,
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid('The request body must be a job JSON object.');
  }
  const fields = body as Record<string, unknown>;
  if (fields.jobId !== undefined && fields.jobId !== jobId) {
    throw hubErrors.argumentInvalid('The jobId in the body does not match the one in the URL.');
  }
  if (typeof fields.queryCondition !== 'string' || fields.queryCondition.trim() === '') {
    throw hubErrors.argumentInvalid(
      'queryCondition must be a query condition such as "deviceId IN [\'d1\']".',
    );
  }
  const queryCondition = fields.queryCondition;
  parseCondition(queryCondition);
  const startTime = readStartTime(fields.startTime, now);
  const maxExecutionTimeInSeconds = readMaxExecution(fields.maxExecutionTimeInSeconds);
  const common = { jobId, queryCondition, startTime, maxExecutionTimeInSeconds };
  if (fields.type === 'scheduleDeviceMethod') {
    return { ...common, type: 'scheduleDeviceMethod', method: readMethod(fields.cloudToDeviceMethod) };
  }
  if (fields.type === 'scheduleUpdateTwin') {
    return { ...common, type: 'scheduleUpdateTwin', twinPatch: readTwinPatch(fields.updateTwin) };
  }
  throw hubErrors.argumentInvalid('type must be "scheduleDeviceMethod" or "scheduleUpdateTwin".');
}

function readStartTime(value: unknown, now: Date): Date {
  if (value === undefined || value === null) return now;
  const time = typeof value === 'string' ? new Date(value) : undefined;
  if (time === undefined || Number.isNaN(time.getTime())) {
    throw hubErrors.argumentInvalid('startTime must be an ISO 8601 date and time.');
  }
  return time;
}

function readMaxExecution(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_MAX_EXECUTION_SECONDS;
  if (
    typeof value !== 'number' ||
    !Number.isSafeInteger(value) ||
    value < 1 ||
    value > MAX_EXECUTION_SECONDS
  ) {
    throw hubErrors.argumentInvalid(
      `maxExecutionTimeInSeconds must be a whole number from 1 to ${MAX_EXECUTION_SECONDS}.`,
    );
  }
  return value;
}

function readMethod(value: unknown): NonNullable<JobSpec['method']> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw hubErrors.argumentInvalid(
      'A scheduleDeviceMethod job needs cloudToDeviceMethod {methodName, payload}.',
    );
  }
  const check = checkMethodInvocation(value);
  if (!check.ok) throw hubErrors.argumentInvalid(check.problem.message);
  return check.invocation;
}

/** The twin patch, checked as `PATCH /twins/{id}` would check it (names, depth, values); its etag is not used. */
function readTwinPatch(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw hubErrors.argumentInvalid(
      'A scheduleUpdateTwin job needs updateTwin {tags, properties: {desired}}.',
    );
  }
  const source = value as Record<string, unknown>;
  const patch = Object.create(null) as Record<string, unknown>;
  if (source.tags !== undefined) patch.tags = source.tags;
  if (source.properties !== undefined) patch.properties = source.properties;
  try {
    const change = readServiceChange(patch, '', 'patch');
    if (!change.tags && !change.desired)
      throw new TwinPatchError(400, 'updateTwin changes neither tags nor desired properties.');
  } catch (error) {
    throw error instanceof TwinPatchError ? hubErrors.argumentInvalid(error.message) : error;
  }
  return patch;
}
