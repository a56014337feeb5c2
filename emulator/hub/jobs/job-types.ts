import type { MethodInvocation } from '../methods/method-dispatcher';

/** A job's kind, as IoT Hub names it in `type` (the body names the operation `cloudToDeviceMethod`/`updateTwin`). */
export type JobType = 'scheduleDeviceMethod' | 'scheduleUpdateTwin';

/** IoT Hub's job states: `scheduled` waits for its start time, `queued` for a free job slot. */
export type JobStatus = 'scheduled' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
export const JOB_STATUSES: readonly JobStatus[] = [
  'scheduled',
  'queued',
  'running',
  'completed',
  'failed',
  'cancelled',
];
export const JOB_TYPES: readonly JobType[] = ['scheduleDeviceMethod', 'scheduleUpdateTwin'];

/** One device's part of a job (`SELECT * FROM devices.jobs`). */
export type DeviceJobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A job as it was asked for, validated. */
export interface JobSpec {
  readonly jobId: string;
  readonly type: JobType;
  readonly queryCondition: string;
  readonly startTime: Date;
  readonly maxExecutionTimeInSeconds: number;
  /** For scheduleDeviceMethod. */
  readonly method?: MethodInvocation;
  /** For scheduleUpdateTwin: the twin patch (tags and desired properties), as `PATCH /twins/{id}` takes it. */
  readonly twinPatch?: Record<string, unknown>;
}

export interface DeviceJobStatistics {
  deviceCount: number;
  failedCount: number;
  succeededCount: number;
  runningCount: number;
  pendingCount: number;
}

/** A job as IoT Hub's API answers it (`GET /jobs/v2/{id}`, JobResponse). */
export interface JobResponse {
  readonly jobId: string;
  readonly queryCondition: string;
  readonly createdTime: string;
  readonly startTime: string;
  readonly endTime?: string;
  readonly maxExecutionTimeInSeconds: number;
  readonly type: JobType;
  readonly cloudToDeviceMethod?: {
    readonly methodName: string;
    readonly payload: unknown;
    readonly responseTimeoutInSeconds: number;
    readonly connectTimeoutInSeconds: number;
  };
  readonly updateTwin?: Record<string, unknown>;
  readonly status: JobStatus;
  readonly failureReason?: string;
  readonly statusMessage?: string;
  readonly deviceJobStatistics: DeviceJobStatistics;
}

/** A device's result in a job, as `SELECT * FROM devices.jobs` answers it. */
export interface DeviceJobJson {
  readonly deviceId: string;
  readonly jobId: string;
  readonly jobType: JobType;
  readonly status: DeviceJobStatus;
  readonly startTimeUtc: string;
  readonly endTimeUtc: string;
  readonly createdDateTimeUtc: string;
  readonly lastUpdatedDateTimeUtc: string;
  readonly outcome?: {
    readonly deviceMethodResponse: { readonly status: number; readonly payload: unknown };
  };
  readonly error?: { readonly code: string; readonly description: string };
}
