import { randomUUID } from 'node:crypto';
import type { JobClient } from 'azure-iothub';
import type { MethodInvocation } from './method-invocation';

/** What the hub said when it took the job. */
export interface ScheduledJob {
  readonly jobId: string;
  readonly status: string;
}

/**
 * Schedules an IoT Hub job (jobs v2) that invokes the method on every device the condition selects, starting now.
 * The id is a fresh UUID so that two callers never collide (the hub answers 409 for a taken id).
 */
export async function scheduleMethodJob(
  jobs: JobClient,
  condition: string,
  invocation: MethodInvocation,
): Promise<ScheduledJob> {
  const jobId = `fanout-${randomUUID()}`;
  const scheduled: { jobStatus: unknown } = await jobs.scheduleDeviceMethod(jobId, condition, {
    methodName: invocation.methodName,
    payload: invocation.payload,
    responseTimeoutInSeconds: invocation.responseTimeoutInSeconds,
    connectTimeoutInSeconds: invocation.connectTimeoutInSeconds,
  });
  // The SDK types the hub's answer as any.
  const status = (scheduled.jobStatus as { status?: unknown } | null)?.status;
  return { jobId, status: typeof status === 'string' ? status : 'queued' };
}
