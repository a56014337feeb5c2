import { HubError } from '../../../../hub/errors';
import { JobService, type JobTargets } from '../../../../hub/jobs/job-service';
import type { MethodResult } from '../../../../hub/methods/method-dispatcher';

/** Devices whose method calls stay open until the test answers them. */
function heldTargets(deviceIds: readonly string[]) {
  const calls = new Map<string, (result: MethodResult) => void>();
  let started: () => void = () => undefined;
  const targets: JobTargets = {
    devices: () => deviceIds.map((deviceId) => ({ deviceId, tags: { all: true } })),
    invokeMethod: (deviceId) =>
      new Promise((resolve) => {
        calls.set(deviceId, resolve);
        started();
      }),
    updateTwin: () => Promise.resolve(),
  };
  const callStarted = () =>
    new Promise<void>((resolve) => {
      started = resolve;
    });
  return { targets, calls, callStarted };
}

const methodJob = (extra: Record<string, unknown> = {}) => ({
  type: 'scheduleDeviceMethod',
  queryCondition: 'tags.all = true',
  cloudToDeviceMethod: { methodName: 'm', responseTimeoutInSeconds: 5 },
  ...extra,
});

describe('JobService', () => {
  it('runs devices at most deviceConcurrency at a time, and cancelling skips the rest', async () => {
    const { targets, calls, callStarted } = heldTargets(['a', 'b', 'c']);
    const jobs = new JobService(targets, { maxConcurrentJobs: 1, deviceConcurrency: 1, maxFinishedJobs: 10 });
    const first = callStarted();
    jobs.create('j', methodJob());
    await first;
    expect([...calls.keys()]).toEqual(['a']);
    expect(jobs.get('j').deviceJobStatistics).toEqual({
      deviceCount: 3,
      runningCount: 1,
      pendingCount: 2,
      succeededCount: 0,
      failedCount: 0,
    });
    expect(jobs.cancel('j').status).toBe('cancelled');
    calls.get('a')?.({ status: 200, payload: null });
    // The job is over: once the running device's answer is processed (every pending callback run), nothing else is
    // called.
    await new Promise((resolve) => setImmediate(resolve));
    expect([...calls.keys()]).toEqual(['a']);
    expect([...jobs.deviceJobs()].map((device) => device.status)).toEqual([
      'completed',
      'cancelled',
      'cancelled',
    ]);
    jobs.close();
  });

  it('fails a job still running after maxExecutionTimeInSeconds, cancelling devices not started', async () => {
    jest.useFakeTimers();
    try {
      const { targets, callStarted } = heldTargets(['a', 'b']);
      const jobs = new JobService(targets, {
        maxConcurrentJobs: 1,
        deviceConcurrency: 1,
        maxFinishedJobs: 10,
      });
      const first = callStarted();
      jobs.create('slow', methodJob({ maxExecutionTimeInSeconds: 2 }));
      await first;
      jest.advanceTimersByTime(2000);
      expect(jobs.get('slow')).toMatchObject({
        status: 'failed',
        deviceJobStatistics: { runningCount: 1, pendingCount: 0 },
      });
      jobs.close();
    } finally {
      jest.useRealTimers();
    }
  });

  it('refuses a taken id (409), an unknown one (404), and a bad request (400) before scheduling', () => {
    const jobs = new JobService(heldTargets([]).targets);
    jobs.create('x', methodJob({ startTime: new Date(Date.now() + 60_000).toISOString() }));
    const code = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        return error instanceof HubError ? error.errorCode : undefined;
      }
      return undefined;
    };
    expect(code(() => jobs.create('x', methodJob()))).toBe(409000);
    expect(code(() => jobs.get('y'))).toBe(404002);
    expect(code(() => jobs.create('z', methodJob({ queryCondition: 'tags.all ==' })))).toBe(400000);
    expect(code(() => jobs.create('z', methodJob({ maxExecutionTimeInSeconds: 0 })))).toBe(400004);
    expect(code(() => jobs.create('z', { ...methodJob(), type: 'export' }))).toBe(400004);
    expect(jobs.list().map((job) => job.jobId)).toEqual(['x']);
    jobs.close();
  });
});
