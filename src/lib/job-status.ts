import type { JobClient } from 'azure-iothub';
import { mapError, parseHubErrorBody, type ErrorReply } from './error-mapping';
import { ValidationError } from './errors';
import { DEVICE_ID_RULE, isValidDeviceId } from './iothub-rules';

/** A job as `GET /api/jobs/{jobId}` answers it: the hub's own fields, those a caller polls for. */
export interface JobView {
  readonly jobId: string;
  readonly type?: string;
  readonly status: string;
  readonly queryCondition?: string;
  readonly methodName?: string;
  readonly createdTime?: string;
  readonly startTime?: string;
  readonly endTime?: string;
  readonly failureReason?: string;
  readonly deviceJobStatistics?: Readonly<Record<string, number>>;
}

/** Job ids follow the device id rule in IoT Hub; anything else is refused before a hub call. */
export function parseJobId(params: Readonly<Record<string, string | undefined>>): string {
  const jobId = params.jobId ?? '';
  if (!isValidDeviceId(jobId)) {
    throw new ValidationError(
      'InvalidJobId',
      'jobId',
      `The job id ${JSON.stringify(jobId.slice(0, 200))} is invalid: use ${DEVICE_ID_RULE}.`,
    );
  }
  return jobId;
}

export async function readJob(jobs: JobClient, jobId: string): Promise<JobView> {
  // The SDK types the job as any; only known fields of the expected types are passed on.
  const job = ((await jobs.getJob(jobId)).jobStatus ?? {}) as Record<string, unknown>;
  const text = (key: string) => (typeof job[key] === 'string' ? { [key]: job[key] } : {});
  const method = (job.cloudToDeviceMethod as { methodName?: unknown } | undefined)?.methodName;
  const statistics = job.deviceJobStatistics;
  return {
    jobId,
    status: typeof job.status === 'string' ? job.status : 'unknown',
    ...text('type'),
    ...text('queryCondition'),
    ...(typeof method === 'string' ? { methodName: method } : {}),
    ...text('createdTime'),
    ...text('startTime'),
    ...text('endTime'),
    ...text('failureReason'),
    ...(typeof statistics === 'object' && statistics !== null
      ? { deviceJobStatistics: numbersOf(statistics as Record<string, unknown>) }
      : {}),
  };
}

function numbersOf(record: Record<string, unknown>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(record).filter((entry): entry is [string, number] => typeof entry[1] === 'number'),
  );
}

/**
 * A job the hub does not know is 404 JobNotFound: azure-iothub has no error class for it (a plain Error carrying
 * `ErrorCode:JobNotFound;...`), which mapError would otherwise answer as a 502.
 */
export function mapJobError(error: unknown, hostName: string): ErrorReply {
  const sdkError = (typeof error === 'object' && error !== null ? error : {}) as {
    response?: { statusCode?: number };
    responseBody?: unknown;
  };
  const details = parseHubErrorBody(sdkError.responseBody);
  if (details.codeName === 'JobNotFound' || sdkError.response?.statusCode === 404) {
    return {
      status: 404,
      code: 'JobNotFound',
      message: 'IoT Hub does not know this job (finished jobs are kept for a limited time).',
      ...(details.trackingId ? { trackingId: details.trackingId } : {}),
    };
  }
  return mapError(error, hostName);
}
