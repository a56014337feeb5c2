import { HubError } from '../errors';
import type {
  DeviceJobJson,
  DeviceJobStatistics,
  DeviceJobStatus,
  JobResponse,
  JobSpec,
  JobStatus,
} from './job-types';

interface DeviceEntry {
  status: DeviceJobStatus;
  readonly createdTime: string;
  startTime?: string;
  endTime?: string;
  lastUpdated: string;
  outcome?: { status: number; payload: unknown };
  error?: { code: string; description: string };
}

/**
 * One job's state: its status, and each target device's part in it. Changes go through the methods below, which
 * keep the job's statistics and times consistent; JSON views are built on demand.
 */
export class Job {
  status: JobStatus;
  endTime: Date | undefined;
  failureReason: string | undefined;
  statusMessage: string | undefined;
  private readonly devices = new Map<string, DeviceEntry>();

  constructor(
    readonly spec: JobSpec,
    readonly createdTime: Date,
    initial: JobStatus,
  ) {
    this.status = initial;
  }

  get finished(): boolean {
    return this.status === 'completed' || this.status === 'failed' || this.status === 'cancelled';
  }

  /** The devices the condition selected when the job started, all pending. */
  target(deviceIds: readonly string[], now: Date): void {
    const time = now.toISOString();
    for (const deviceId of deviceIds)
      this.devices.set(deviceId, { status: 'pending', createdTime: time, lastUpdated: time });
  }

  deviceIds(): string[] {
    return [...this.devices.keys()];
  }

  isPending(deviceId: string): boolean {
    return this.devices.get(deviceId)?.status === 'pending';
  }

  startDevice(deviceId: string, now: Date): void {
    this.update(deviceId, now, (entry, time) => {
      entry.status = 'running';
      entry.startTime = time;
    });
  }

  completeDevice(deviceId: string, now: Date, outcome?: { status: number; payload: unknown }): void {
    this.update(deviceId, now, (entry, time) => {
      entry.status = 'completed';
      entry.endTime = time;
      if (outcome) entry.outcome = outcome;
    });
  }

  failDevice(deviceId: string, now: Date, error: unknown): void {
    this.update(deviceId, now, (entry, time) => {
      entry.status = 'failed';
      entry.endTime = time;
      entry.error =
        error instanceof HubError
          ? { code: error.codeName, description: error.message }
          : { code: 'ServerError', description: 'The operation failed in the hub.' };
    });
  }

  /** Devices not started yet will not be: cancelled with the job, or when it ran out of time. */
  cancelPending(now: Date): void {
    for (const [deviceId, entry] of this.devices) {
      if (entry.status !== 'pending') continue;
      this.update(deviceId, now, (pending, time) => {
        pending.status = 'cancelled';
        pending.endTime = time;
      });
    }
  }

  finish(status: 'completed' | 'failed' | 'cancelled', now: Date, reason?: string): void {
    if (this.finished) return;
    this.status = status;
    this.endTime = now;
    if (reason !== undefined) {
      this.failureReason = status === 'failed' ? reason : undefined;
      this.statusMessage = reason;
    }
  }

  statistics(): DeviceJobStatistics {
    const stats = {
      deviceCount: this.devices.size,
      failedCount: 0,
      succeededCount: 0,
      runningCount: 0,
      pendingCount: 0,
    };
    for (const entry of this.devices.values()) {
      if (entry.status === 'completed') stats.succeededCount++;
      else if (entry.status === 'failed') stats.failedCount++;
      else if (entry.status === 'running') stats.runningCount++;
      else if (entry.status === 'pending') stats.pendingCount++;
    }
    return stats;
  }

  response(): JobResponse {
    const { spec } = this;
    return {
      jobId: spec.jobId,
      queryCondition: spec.queryCondition,
      createdTime: this.createdTime.toISOString(),
      startTime: spec.startTime.toISOString(),
      ...(this.endTime ? { endTime: this.endTime.toISOString() } : {}),
      maxExecutionTimeInSeconds: spec.maxExecutionTimeInSeconds,
      type: spec.type,
      ...(spec.method ? { cloudToDeviceMethod: { ...spec.method } } : {}),
      ...(spec.twinPatch ? { updateTwin: spec.twinPatch } : {}),
      status: this.status,
      ...(this.failureReason === undefined ? {} : { failureReason: this.failureReason }),
      ...(this.statusMessage === undefined ? {} : { statusMessage: this.statusMessage }),
      deviceJobStatistics: this.statistics(),
    };
  }

  /** Each target device's result, in the order the devices were selected. */
  *deviceJobs(): Generator<DeviceJobJson> {
    for (const [deviceId, entry] of this.devices) {
      yield {
        deviceId,
        jobId: this.spec.jobId,
        jobType: this.spec.type,
        status: entry.status,
        startTimeUtc: entry.startTime ?? this.spec.startTime.toISOString(),
        endTimeUtc: entry.endTime ?? NOT_YET,
        createdDateTimeUtc: entry.createdTime,
        lastUpdatedDateTimeUtc: entry.lastUpdated,
        ...(entry.outcome ? { outcome: { deviceMethodResponse: entry.outcome } } : {}),
        ...(entry.error ? { error: entry.error } : {}),
      };
    }
  }

  private update(deviceId: string, now: Date, change: (entry: DeviceEntry, time: string) => void): void {
    const entry = this.devices.get(deviceId);
    if (!entry) return;
    const time = now.toISOString();
    change(entry, time);
    entry.lastUpdated = time;
  }
}

/** What IoT Hub shows for a time that has not come yet. */
const NOT_YET = '0001-01-01T00:00:00Z';
