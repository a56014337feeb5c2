import { hubErrors } from '../errors';
import type { MethodInvocation, MethodResult } from '../methods/method-dispatcher';
import { matches, type QueryDocument } from '../query/evaluate';
import { parseCondition } from '../query/parse-query';
import { Job } from './job';
import { readJobRequest } from './job-request';
import type { DeviceJobJson, JobResponse, JobStatus, JobType } from './job-types';

/** What a job acts on: the device twins its condition reads, and the two operations it runs on devices. */
export interface JobTargets {
  /** Device twin documents, in a stable order. */
  devices(): Iterable<QueryDocument>;
  invokeMethod(deviceId: string, invocation: MethodInvocation): Promise<MethodResult>;
  updateTwin(deviceId: string, patch: Record<string, unknown>): Promise<void>;
}

export interface JobLimits {
  /** Jobs running at once; others wait as `queued`. IoT Hub S1: 1 (S2: 5, S3: 10). */
  readonly maxConcurrentJobs: number;
  /** Device operations of one job in flight at once. */
  readonly deviceConcurrency: number;
  /** Finished jobs kept for GET and queries; the oldest are forgotten first. */
  readonly maxFinishedJobs: number;
}

/** IoT Hub's S1 tier: one job at a time. Device operations run 10 at once (S1 allows 10 per second). */
export const S1_JOB_LIMITS: JobLimits = {
  maxConcurrentJobs: 1,
  deviceConcurrency: 10,
  maxFinishedJobs: 1000,
};

/**
 * Jobs v2 as IoT Hub runs them: a job waits for its start time (`scheduled`), then for a free slot (`queued`,
 * at most `maxConcurrentJobs` run), selects its devices with its condition when it starts, and runs its operation
 * on each with bounded concurrency, recording each device's result. Cancelling stops devices not started yet; a job
 * still running after `maxExecutionTimeInSeconds` fails, its remaining devices cancelled. Jobs live in memory.
 */
export class JobService {
  private readonly jobs = new Map<string, Job>();
  private readonly queue: Job[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private running = 0;
  private closed = false;

  constructor(
    private readonly targets: JobTargets,
    private readonly limits: JobLimits = S1_JOB_LIMITS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** `PUT /jobs/v2/{jobId}`: validates and schedules; 409 when the id is taken. */
  create(jobId: string, body: unknown): JobResponse {
    if (this.closed) throw hubErrors.badRequest('The hub is shutting down.');
    const now = this.now();
    const spec = readJobRequest(jobId, body, now);
    if (this.jobs.has(jobId)) throw hubErrors.jobAlreadyExists(jobId);
    const delay = spec.startTime.getTime() - now.getTime();
    const job = new Job(spec, now, delay > 0 ? 'scheduled' : 'queued');
    this.jobs.set(jobId, job);
    this.forgetOldJobs();
    if (delay > 0) {
      this.timers.set(
        jobId,
        setTimeout(
          () => {
            this.timers.delete(jobId);
            this.enqueue(job);
          },
          Math.min(delay, 2 ** 31 - 1),
        ).unref(),
      );
    } else {
      this.enqueue(job);
    }
    return job.response();
  }

  get(jobId: string): JobResponse {
    return this.find(jobId).response();
  }

  /** `POST /jobs/v2/{jobId}/cancel`: a job not finished is cancelled; devices already running finish. */
  cancel(jobId: string): JobResponse {
    const job = this.find(jobId);
    if (!job.finished) {
      const now = this.now();
      clearTimeout(this.timers.get(jobId));
      this.timers.delete(jobId);
      const queued = this.queue.indexOf(job);
      if (queued >= 0) this.queue.splice(queued, 1);
      job.cancelPending(now);
      job.finish('cancelled', now);
    }
    return job.response();
  }

  /** `GET /jobs/v2/query`: jobs, oldest first, of a type and status if given. */
  list(type?: JobType, status?: JobStatus): JobResponse[] {
    return [...this.jobs.values()]
      .filter(
        (job) =>
          (type === undefined || job.spec.type === type) && (status === undefined || job.status === status),
      )
      .map((job) => job.response());
  }

  /** Every device's part in every job kept: the `devices.jobs` collection queries read. */
  *deviceJobs(): Generator<DeviceJobJson> {
    for (const job of this.jobs.values()) yield* job.deviceJobs();
  }

  /** Stops timers; running jobs stop taking devices (calls in flight end on their own). */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const job of this.jobs.values()) {
      if (job.finished) continue;
      job.cancelPending(this.now());
      job.finish('cancelled', this.now(), 'The hub stopped.');
    }
    this.queue.length = 0;
  }

  private find(jobId: string): Job {
    const job = this.jobs.get(jobId);
    if (!job) throw hubErrors.jobNotFound(jobId);
    return job;
  }

  private enqueue(job: Job): void {
    if (job.finished) return;
    job.status = 'queued';
    this.queue.push(job);
    this.pump();
  }

  private pump(): void {
    while (this.running < this.limits.maxConcurrentJobs) {
      const job = this.queue.shift();
      if (!job) return;
      this.running++;
      void this.run(job)
        .catch(() => {
          // Only a bug can get here (the request was checked when the job was created): fail the job, not the hub.
          job.cancelPending(this.now());
          job.finish('failed', this.now(), 'The job failed in the hub.');
        })
        .finally(() => {
          this.running--;
          this.pump();
        });
    }
  }

  private async run(job: Job): Promise<void> {
    const condition = parseCondition(job.spec.queryCondition);
    const deviceIds: string[] = [];
    for (const document of this.targets.devices()) {
      if (typeof document.deviceId === 'string' && matches(document, condition))
        deviceIds.push(document.deviceId);
    }
    job.status = 'running';
    job.target(deviceIds, this.now());
    const deadline = setTimeout(() => {
      job.cancelPending(this.now());
      job.finish(
        'failed',
        this.now(),
        `The job did not finish within ${job.spec.maxExecutionTimeInSeconds} s.`,
      );
    }, job.spec.maxExecutionTimeInSeconds * 1000).unref();
    try {
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < deviceIds.length && !job.finished; index = next++) {
          const deviceId = deviceIds[index] ?? '';
          if (!job.isPending(deviceId)) continue;
          await this.runDevice(job, deviceId);
        }
      };
      const workers = Math.max(1, Math.min(this.limits.deviceConcurrency, deviceIds.length));
      await Promise.all(Array.from({ length: workers }, worker));
      job.finish('completed', this.now());
    } finally {
      clearTimeout(deadline);
    }
  }

  private async runDevice(job: Job, deviceId: string): Promise<void> {
    job.startDevice(deviceId, this.now());
    try {
      if (job.spec.method) {
        const result = await this.targets.invokeMethod(deviceId, job.spec.method);
        job.completeDevice(deviceId, this.now(), { status: result.status, payload: result.payload });
      } else if (job.spec.twinPatch) {
        await this.targets.updateTwin(deviceId, job.spec.twinPatch);
        job.completeDevice(deviceId, this.now());
      }
    } catch (error) {
      job.failDevice(deviceId, this.now(), error);
    }
  }

  private forgetOldJobs(): void {
    let excess = [...this.jobs.values()].filter((job) => job.finished).length - this.limits.maxFinishedJobs;
    for (const [jobId, job] of this.jobs) {
      if (excess <= 0) return;
      if (!job.finished) continue;
      this.jobs.delete(jobId);
      excess--;
    }
  }
}
