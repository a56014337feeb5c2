import type { Client as DeviceClient, DeviceMethodResponse } from 'azure-iot-device';
import type { JobClient, Registry } from 'azure-iothub';
import type { RunningEmulator } from 'iothub-emulator';
import { createIotHubJobClient } from '../../src/lib/iothub-jobs-client';
import { connectDevice, registryClient, serviceSettings, startTestEmulator } from '../helpers/emulator';

type Emulator = RunningEmulator & { removeData: () => void };
type Json = Record<string, unknown>;

const FLEET = Array.from({ length: 100 }, (_, index) => `job-${String(index).padStart(3, '0')}`);
const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/** The job as the hub reports it (the SDK types it as any). */
async function getJob(jobs: JobClient, jobId: string): Promise<Json> {
  return (await jobs.getJob(jobId)).jobStatus as Json;
}

/** Polls the job's status the way a service does, until it is finished (each poll is one GET). */
async function finishedJob(jobs: JobClient, jobId: string): Promise<Json> {
  for (;;) {
    const job = await getJob(jobs, jobId);
    if (FINISHED.has(job.status as string)) return job;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function deviceJobs(registry: Registry, jobId: string): Promise<Json[]> {
  const query = registry.createQuery(`SELECT * FROM devices.jobs WHERE jobId = '${jobId}'`, 1000);
  const results: Json[] = [];
  while (query.hasMoreResults)
    results.push(...((await query.next(query.continuationToken)).result as Json[]));
  return results;
}

describe('jobs v2 (azure-iothub JobClient against the emulator)', () => {
  let emulator: Emulator;
  let registry: Registry;
  let jobs: JobClient;
  const devices: DeviceClient[] = [];
  /** Answers of the held method, released by the test. */
  const held: DeviceMethodResponse[] = [];

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: [...FLEET, 'job-held', 'job-offline'] });
    registry = registryClient(emulator);
    jobs = createIotHubJobClient(serviceSettings(emulator));
    for (const deviceId of FLEET) await registry.updateTwin(deviceId, { tags: { fleet: 'jobs' } }, '*');
    for (let start = 0; start < FLEET.length; start += 25) {
      const batch = await Promise.all(
        FLEET.slice(start, start + 25).map((deviceId) =>
          connectDevice(emulator, emulator.deviceConnectionString(deviceId), {
            whoAreYou: (request, response) => {
              void response.send(200, { deviceId, asked: request.payload as unknown });
            },
          }),
        ),
      );
      devices.push(...batch);
    }
    devices.push(
      await connectDevice(emulator, emulator.deviceConnectionString('job-held'), {
        hold: (_request, response) => held.push(response),
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(devices.map((device) => device.close()));
    await emulator.stop();
    emulator.removeData();
  });

  it('runs a direct method on 100 devices and records each device result', async () => {
    const scheduled = await jobs.scheduleDeviceMethod('method-100', "tags.fleet = 'jobs'", {
      methodName: 'whoAreYou',
      payload: { n: 1 },
      responseTimeoutInSeconds: 30,
    });
    expect(scheduled.jobStatus).toMatchObject({ jobId: 'method-100', type: 'scheduleDeviceMethod' });
    const job = await finishedJob(jobs, 'method-100');
    expect(job).toMatchObject({
      status: 'completed',
      queryCondition: "tags.fleet = 'jobs'",
      cloudToDeviceMethod: { methodName: 'whoAreYou', payload: { n: 1 }, responseTimeoutInSeconds: 30 },
      deviceJobStatistics: {
        deviceCount: 100,
        succeededCount: 100,
        failedCount: 0,
        pendingCount: 0,
        runningCount: 0,
      },
    });
    expect(typeof job.endTime).toBe('string');
    const results = await deviceJobs(registry, 'method-100');
    expect(results.map((result) => result.deviceId).sort()).toEqual(FLEET);
    for (const result of results) {
      expect(result).toMatchObject({
        jobId: 'method-100',
        jobType: 'scheduleDeviceMethod',
        status: 'completed',
        outcome: {
          deviceMethodResponse: { status: 200, payload: { deviceId: result.deviceId, asked: { n: 1 } } },
        },
      });
    }
  });

  it('updates twins over a condition', async () => {
    await jobs.scheduleTwinUpdate('twins-100', "tags.fleet = 'jobs' AND deviceId < 'job-010'", {
      etag: '*',
      tags: { wave: 2 },
      properties: { desired: { telemetryInterval: 7 } },
    });
    const job = await finishedJob(jobs, 'twins-100');
    expect(job).toMatchObject({
      status: 'completed',
      deviceJobStatistics: { deviceCount: 10, succeededCount: 10 },
    });
    const twin = (await registry.getTwin('job-003')).responseBody;
    expect(twin.tags).toMatchObject({ fleet: 'jobs', wave: 2 });
    expect(twin.properties.desired).toMatchObject({ telemetryInterval: 7 });
    expect((await registry.getTwin('job-050')).responseBody.tags).toEqual({ fleet: 'jobs' });
  });

  it('fails the devices that are offline, with the hub error code, and completes the job', async () => {
    await jobs.scheduleDeviceMethod('offline', "deviceId = 'job-offline'", { methodName: 'whoAreYou' });
    const job = await finishedJob(jobs, 'offline');
    expect(job).toMatchObject({
      status: 'completed',
      deviceJobStatistics: { deviceCount: 1, failedCount: 1 },
    });
    const [result] = await deviceJobs(registry, 'offline');
    expect(result).toMatchObject({ status: 'failed', error: { code: 'DeviceNotOnline' } });
  });

  it('runs one job at a time (S1): the next waits as queued', async () => {
    await jobs.scheduleDeviceMethod('holder', "deviceId = 'job-held'", { methodName: 'hold' });
    // The device received the call once the hub started the job.
    while (held.length === 0) await getJob(jobs, 'holder');
    const second = (
      await jobs.scheduleDeviceMethod('behind', "deviceId = 'job-000'", { methodName: 'whoAreYou' })
    ).jobStatus as Json;
    expect(second.status).toBe('queued');
    expect(await getJob(jobs, 'holder')).toMatchObject({
      status: 'running',
      deviceJobStatistics: { runningCount: 1 },
    });
    await held[0]?.send(200, 'released');
    expect(await finishedJob(jobs, 'behind')).toMatchObject({ status: 'completed' });
    expect(await getJob(jobs, 'holder')).toMatchObject({ status: 'completed' });
  });

  it('cancels a scheduled job', async () => {
    const inAnHour = new Date(Date.now() + 3_600_000);
    const scheduled = (
      await jobs.scheduleDeviceMethod(
        'later',
        "tags.fleet = 'jobs'",
        { methodName: 'whoAreYou' },
        inAnHour,
        600,
      )
    ).jobStatus as Json;
    expect(scheduled).toMatchObject({ status: 'scheduled', maxExecutionTimeInSeconds: 600 });
    expect(new Date(scheduled.startTime as string).getTime()).toBe(inAnHour.getTime());
    const cancelled = (await jobs.cancelJob('later')).jobStatus as Json;
    expect(cancelled).toMatchObject({ status: 'cancelled', deviceJobStatistics: { deviceCount: 0 } });
    expect(await getJob(jobs, 'later')).toMatchObject({ status: 'cancelled' });
  });

  it('lists jobs by type and status (GET /jobs/v2/query), paged', async () => {
    const query = jobs.createQuery('scheduleDeviceMethod', 'cancelled');
    const page = (await query.next()).result as Json[];
    expect(page.map((job) => job.jobId)).toEqual(['later']);
    const all = jobs.createQuery(undefined, undefined, 2);
    const ids: unknown[] = [];
    while (all.hasMoreResults)
      ids.push(...((await all.next(all.continuationToken)).result as Json[]).map((job) => job.jobId));
    expect(ids).toEqual(['method-100', 'twins-100', 'offline', 'holder', 'behind', 'later']);
  });

  it('answers IoT Hub errors: unknown job 404, taken id 409, bad condition 400', async () => {
    // azure-iothub has no error class for JobNotFound: it gives a plain Error with the hub's body.
    await expect(jobs.getJob('nobody')).rejects.toMatchObject({
      responseBody: expect.stringContaining('ErrorCode:JobNotFound;') as unknown,
    });
    await expect(
      jobs.scheduleDeviceMethod('method-100', "deviceId = 'x'", { methodName: 'whoAreYou' }),
    ).rejects.toMatchObject({ name: 'DeviceAlreadyExistsError' }); // the SDK's class for every 409
    await expect(
      jobs.scheduleDeviceMethod('bad-condition', 'deviceId ==== 1', { methodName: 'whoAreYou' }),
    ).rejects.toMatchObject({ name: 'ArgumentError' });
    await expect(
      jobs.scheduleTwinUpdate('bad-patch', "deviceId = 'x'", { tags: { 'a.b': 1 } }),
    ).rejects.toMatchObject({
      name: 'ArgumentError',
    });
  });
});
