import type { Client as DeviceClient } from 'azure-iot-device';
import type { Registry } from 'azure-iothub';
import type { RunningEmulator } from 'iothub-emulator';
import { emulatorHostSettings } from '../../local/emulator-settings';
import { startLocalHost, type LocalHostProcess } from '../../local/host/host-process';
import { connectDevice, registryClient, startTestEmulator } from '../helpers/emulator';

type Emulator = RunningEmulator & { removeData: () => void };
type Json = Record<string, unknown>;

const FLEET = Array.from({ length: 1000 }, (_, index) => `fan-${String(index).padStart(4, '0')}`);
const FINISHED = new Set(['completed', 'failed', 'cancelled']);

describe('fan-out: POST /api/methods/{methodName} and GET /api/jobs/{jobId} through the local host', () => {
  let emulator: Emulator;
  let registry: Registry;
  let host: LocalHostProcess;
  const devices: DeviceClient[] = [];

  const post = async (methodName: string, body: unknown) => {
    const response = await fetch(`${host.baseUrl}/api/methods/${methodName}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const getJob = async (jobId: string) => {
    const response = await fetch(`${host.baseUrl}/api/jobs/${jobId}`);
    return { status: response.status, body: (await response.json()) as Json };
  };
  /** Polls the status URL as a caller would, until the job is finished (each poll is one request). */
  const finishedJob = async (statusUrl: string): Promise<Json> => {
    for (;;) {
      const job = (await (await fetch(statusUrl)).json()) as Json;
      if (FINISHED.has(job.status as string)) return job;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: [...FLEET, 'fan-offline'] });
    registry = registryClient(emulator);
    for (let start = 0; start < FLEET.length; start += 50) {
      const batch = await Promise.all(
        FLEET.slice(start, start + 50).map((deviceId) =>
          connectDevice(emulator, emulator.deviceConnectionString(deviceId), {
            whoAreYou: (request, response) => {
              void response.send(200, { deviceId, asked: request.payload as unknown });
            },
          }),
        ),
      );
      devices.push(...batch);
    }
    host = await startLocalHost({
      ...emulatorHostSettings(emulator.info),
      FANOUT_MAX_DIRECT_DEVICES: '2000',
      FANOUT_CONCURRENCY: '32',
      FANOUT_MAX_DEVICE_IDS: '2000',
    });
  }, 300_000);

  afterAll(async () => {
    await host.stop();
    await Promise.all(devices.map((device) => device.close()));
    await emulator.stop();
    emulator.removeData();
  });

  it('invokes the method on 1,000 listed devices directly, every result matched to its device', async () => {
    const ids = [...FLEET, 'fan-offline', 'fan-unknown'];
    const { status, body } = await post('whoAreYou', {
      deviceIds: ids,
      payload: { n: 7 },
      responseTimeoutInSeconds: 30,
    });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      methodName: 'whoAreYou',
      deviceCount: 1002,
      answeredCount: 1000,
      failedCount: 2,
    });
    const results = body.results as Json[];
    expect(results.map((result) => result.deviceId)).toEqual(ids);
    for (const result of results.slice(0, 1000)) {
      expect(result).toEqual({
        deviceId: result.deviceId,
        status: 200,
        payload: { deviceId: result.deviceId, asked: { n: 7 } },
      });
    }
    expect(results[1000]).toMatchObject({ deviceId: 'fan-offline', error: { code: 'DeviceNotOnline' } });
    expect(results[1001]).toMatchObject({ deviceId: 'fan-unknown', error: { code: 'DeviceNotFound' } });
  }, 120_000);

  it('resolves a query condition to its devices (paged) and runs them directly', async () => {
    const { status, body } = await post('whoAreYou', {
      query: "deviceId >= 'fan-0100' AND deviceId < 'fan-0110'",
    });
    expect(status).toBe(200);
    const results = body.results as Json[];
    expect(results.map((result) => result.deviceId).sort()).toEqual(FLEET.slice(100, 110));
    for (const result of results) {
      expect(result).toMatchObject({ status: 200, payload: { deviceId: result.deviceId, asked: null } });
    }
  });

  it('schedules a job for listed devices, answers 202 with a status URL, and reports the statistics', async () => {
    const ids = FLEET.slice(0, 100);
    const { status, body } = await post('whoAreYou', { deviceIds: ids, payload: 'job', mode: 'job' });
    expect(status).toBe(202);
    const jobId = body.jobId as string;
    expect(jobId).toMatch(/^fanout-/);
    expect(body.statusUrl).toBe(`${host.baseUrl}/api/jobs/${jobId}`);
    const job = await finishedJob(body.statusUrl as string);
    expect(job).toMatchObject({
      jobId,
      type: 'scheduleDeviceMethod',
      status: 'completed',
      methodName: 'whoAreYou',
      deviceJobStatistics: { deviceCount: 100, succeededCount: 100, failedCount: 0 },
    });
    // The hub's per-device results, each with its own device's answer.
    const query = registry.createQuery(`SELECT * FROM devices.jobs WHERE jobId = '${jobId}'`, 1000);
    const rows: Json[] = [];
    while (query.hasMoreResults) rows.push(...((await query.next(query.continuationToken)).result as Json[]));
    expect(rows.map((row) => row.deviceId).sort()).toEqual(ids);
    for (const row of rows) {
      expect(row).toMatchObject({
        outcome: { deviceMethodResponse: { status: 200, payload: { deviceId: row.deviceId, asked: 'job' } } },
      });
    }
  }, 60_000);

  it('schedules a job over a query condition across all 1,000 devices', async () => {
    const { status, body } = await post('whoAreYou', {
      query: "deviceId >= 'fan-0' AND deviceId < 'fan-1'",
      mode: 'job',
    });
    expect(status).toBe(202);
    const job = await finishedJob(body.statusUrl as string);
    expect(job).toMatchObject({
      status: 'completed',
      queryCondition: "deviceId >= 'fan-0' AND deviceId < 'fan-1'",
      deviceJobStatistics: { deviceCount: 1000, succeededCount: 1000 },
    });
  }, 120_000);

  it('refuses bad requests with the method function error shape, before calling any device', async () => {
    expect(await post('whoAreYou', '{')).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidJson', target: 'body' } },
    });
    expect(await post('whoAreYou', { deviceIds: ['a'], query: 'x = 1' })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidTarget' } },
    });
    expect(await post('whoAreYou', { deviceIds: ['ok', 'bad/id'] })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidDeviceId', target: 'deviceIds[1]' } },
    });
    expect(await post('whoAreYou', { deviceIds: ['a'], responseTimeoutInSeconds: 1 })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidTimeout', target: 'responseTimeoutInSeconds' } },
    });
    expect(await post('who%2Bare', { deviceIds: ['a'] })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidMethodName' } },
    });
    // 1,000 ids do not fit in one job condition (IoT Hub takes queries of at most 8,192 characters).
    expect(await post('whoAreYou', { deviceIds: FLEET, mode: 'job' })).toMatchObject({
      status: 413,
      body: { error: { code: 'TooManyDevicesForJob', target: 'deviceIds' } },
    });
    expect(await post('whoAreYou', { query: 'deviceId ==== 1' })).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidRequest' } },
    });
  });

  it('answers 404 for an unknown job and 400 for an invalid job id', async () => {
    expect(await getJob('fanout-nobody')).toMatchObject({
      status: 404,
      body: { error: { code: 'JobNotFound' } },
    });
    expect(await getJob('bad%23%7Bid')).toMatchObject({
      status: 400,
      body: { error: { code: 'InvalidJobId' } },
    });
  });
});
