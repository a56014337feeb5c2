import { RequestTooLargeError } from '../../../../src/lib/error-mapping';
import { SettingsError, ValidationError } from '../../../../src/lib/errors';
import { deviceIdsCondition, MAX_CONDITION_LENGTH } from '../../../../src/lib/fan-out-conditions';
import { planFanOut } from '../../../../src/lib/fan-out-plan';
import { mapWithConcurrency } from '../../../../src/lib/fan-out-pool';
import { parseFanOutRequest } from '../../../../src/lib/fan-out-request';
import { readFanOutSettings, type FanOutSettings } from '../../../../src/lib/fan-out-settings';
import type { ResolvedDevices } from '../../../../src/lib/fan-out-targets';
import { mapJobError, parseJobId } from '../../../../src/lib/job-status';
import { thrownBy } from '../../../../devkit/thrown-by';

const SETTINGS: FanOutSettings = { maxDirectDevices: 3, concurrency: 2, maxDeviceIds: 5 };
const parse = (body: unknown, methodName = 'reboot') =>
  parseFanOutRequest({ methodName }, typeof body === 'string' ? body : JSON.stringify(body), SETTINGS);
const refused = (body: unknown) => thrownBy(ValidationError, () => parse(body));

describe('readFanOutSettings', () => {
  it('has documented defaults', () => {
    expect(readFanOutSettings({})).toEqual({ maxDirectDevices: 100, concurrency: 16, maxDeviceIds: 1000 });
  });
  it('reads whole numbers in range and names a malformed setting', () => {
    expect(readFanOutSettings({ FANOUT_CONCURRENCY: ' 4 ' }).concurrency).toBe(4);
    for (const value of ['0', '65', '1.5', 'many', '-1']) {
      const error = thrownBy(SettingsError, () => readFanOutSettings({ FANOUT_CONCURRENCY: value }));
      expect(error.setting).toBe('FANOUT_CONCURRENCY');
      expect(error.message).toContain('from 1 to 64');
    }
  });
});

describe('parseFanOutRequest', () => {
  it('reads ids or a condition, the invocation and the mode', () => {
    expect(parse({ deviceIds: ['a', 'b'], payload: { x: 1 }, mode: 'job' })).toEqual({
      target: { kind: 'ids', deviceIds: ['a', 'b'] },
      invocation: {
        methodName: 'reboot',
        payload: { x: 1 },
        responseTimeoutInSeconds: 30,
        connectTimeoutInSeconds: 0,
      },
      mode: 'job',
    });
    expect(parse({ query: " tags.site = 'lab' " })).toMatchObject({
      target: { kind: 'query', condition: "tags.site = 'lab'" },
    });
    expect(parse({ query: 'x = 1' })).not.toHaveProperty('mode');
  });

  it('refuses bad input with a code and the field', () => {
    expect(refused('[1]')).toMatchObject({ code: 'InvalidBody' });
    expect(refused('')).toMatchObject({ code: 'InvalidJson' });
    expect(refused({ deviceIds: ['a'], extra: 1 })).toMatchObject({ code: 'UnknownField', field: 'extra' });
    expect(refused({})).toMatchObject({ code: 'InvalidTarget' });
    expect(refused({ deviceIds: ['a'], query: 'x = 1' })).toMatchObject({ code: 'InvalidTarget' });
    expect(refused({ deviceIds: [] })).toMatchObject({ code: 'InvalidDeviceIds' });
    expect(refused({ deviceIds: ['a', 7] })).toMatchObject({
      code: 'InvalidDeviceId',
      field: 'deviceIds[1]',
    });
    expect(refused({ deviceIds: ['a', 'a'] })).toMatchObject({
      code: 'DuplicateDeviceId',
      field: 'deviceIds[1]',
    });
    expect(refused({ query: '  ' })).toMatchObject({ code: 'InvalidQuery' });
    expect(refused({ query: 'SELECT * FROM devices' })).toMatchObject({ code: 'InvalidQuery' });
    expect(refused({ query: 'x = 1', mode: 'later' })).toMatchObject({ code: 'InvalidMode', field: 'mode' });
    expect(refused({ query: 'x = 1', connectTimeoutInSeconds: 301 })).toMatchObject({
      code: 'InvalidTimeout',
    });
    expect(thrownBy(ValidationError, () => parse({ query: 'x = 1' }, 'a/b'))).toMatchObject({
      code: 'InvalidMethodName',
    });
  });

  it('answers 413-class errors for lists and conditions over the limits', () => {
    expect(
      thrownBy(RequestTooLargeError, () => parse({ deviceIds: ['a', 'b', 'c', 'd', 'e', 'f'] })),
    ).toMatchObject({
      code: 'TooManyDevices',
    });
    expect(
      thrownBy(RequestTooLargeError, () => parse({ query: `x = '${'y'.repeat(MAX_CONDITION_LENGTH)}'` })),
    ).toMatchObject({ code: 'QueryTooLong' });
  });
});

describe('deviceIdsCondition', () => {
  it("lists the ids, escaping quotes and backslashes as IoT Hub's literals take them", () => {
    expect(deviceIdsCondition(['a', "o'neil"])).toBe("deviceId IN ['a', 'o\\'neil']");
  });
});

describe('planFanOut', () => {
  const resolver = (ids: string[]) => {
    const calls: number[] = [];
    const resolve = (_condition: string, limit: number): Promise<ResolvedDevices> => {
      calls.push(limit);
      return Promise.resolve({ deviceIds: ids.slice(0, limit + 1), overLimit: ids.length > limit });
    };
    return { calls, resolve };
  };
  const plan = (body: unknown, ids: string[] = []) =>
    planFanOut(parse(body), SETTINGS, resolver(ids).resolve);

  it('runs small id lists directly and larger ones (or mode job) as a job over deviceId IN [...]', async () => {
    expect(await plan({ deviceIds: ['a', 'b', 'c'] })).toEqual({
      kind: 'direct',
      deviceIds: ['a', 'b', 'c'],
    });
    expect(await plan({ deviceIds: ['a', 'b', 'c', 'd'] })).toEqual({
      kind: 'job',
      condition: "deviceId IN ['a', 'b', 'c', 'd']",
    });
    expect(await plan({ deviceIds: ['a'], mode: 'job' })).toEqual({
      kind: 'job',
      condition: "deviceId IN ['a']",
    });
    await expect(plan({ deviceIds: ['a', 'b', 'c', 'd'], mode: 'direct' })).rejects.toMatchObject({
      code: 'TooManyDevicesForDirect',
    });
  });

  it('resolves a condition and runs it directly when small, as a job otherwise; a job needs no resolution', async () => {
    expect(await plan({ query: 'x = 1' }, ['a', 'b'])).toEqual({ kind: 'direct', deviceIds: ['a', 'b'] });
    expect(await plan({ query: 'x = 1' }, ['a', 'b', 'c', 'd'])).toEqual({ kind: 'job', condition: 'x = 1' });
    await expect(plan({ query: 'x = 1', mode: 'direct' }, ['a', 'b', 'c', 'd'])).rejects.toBeInstanceOf(
      RequestTooLargeError,
    );
    const { calls, resolve } = resolver(['a']);
    expect(await planFanOut(parse({ query: 'x = 1', mode: 'job' }), SETTINGS, resolve)).toEqual({
      kind: 'job',
      condition: 'x = 1',
    });
    expect(calls).toEqual([]);
  });

  it('refuses a job whose id list does not fit in one condition', async () => {
    const ids = Array.from({ length: 700 }, (_, i) => `device-number-${i}`);
    const settings = { ...SETTINGS, maxDeviceIds: 1000 };
    const request = parseFanOutRequest({ methodName: 'm' }, JSON.stringify({ deviceIds: ids }), settings);
    await expect(planFanOut(request, settings, resolver([]).resolve)).rejects.toMatchObject({
      code: 'TooManyDevicesForJob',
    });
  });
});

describe('mapWithConcurrency', () => {
  it('keeps at most n in flight and answers in the items order, whatever order they finish in', async () => {
    let inFlight = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const running = mapWithConcurrency([1, 2, 3, 4, 5], 2, async (item) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise<void>((resolve) => releases.push(resolve));
      inFlight--;
      return item * 10;
    });
    // Release the newest first, so completion order differs from the items'.
    while (releases.length > 0 || inFlight > 0) {
      await Promise.resolve();
      releases.pop()?.();
    }
    expect(await running).toEqual([10, 20, 30, 40, 50]);
    expect(most).toBe(2);
  });
});

describe('job ids and errors', () => {
  it('validates the job id', () => {
    expect(parseJobId({ jobId: 'fanout-1' })).toBe('fanout-1');
    expect(thrownBy(ValidationError, () => parseJobId({ jobId: 'a/b' }))).toMatchObject({
      code: 'InvalidJobId',
    });
  });
  it("answers IoT Hub's JobNotFound as 404, anything else as the method function does", () => {
    const notFound = Object.assign(new Error('nope'), {
      response: { statusCode: 404 },
      responseBody: JSON.stringify({ Message: 'ErrorCode:JobNotFound;no job' }),
    });
    expect(mapJobError(notFound, 'hub')).toMatchObject({ status: 404, code: 'JobNotFound' });
    const throttled = Object.assign(new Error('slow down'), { response: { statusCode: 429 } });
    expect(mapJobError(throttled, 'hub')).toMatchObject({ status: 429, code: 'Throttled' });
  });
});
