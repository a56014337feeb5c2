import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Client as DeviceClient } from 'azure-iot-device';
import { connectDevice, echo, policyKey } from '../helpers/emulator';
import { serviceCall } from '../helpers/raw-clients';
import { nestedArrays, startHostileStack, type HostileStack } from './harness';

const API = 'api-version=2021-04-12';

/**
 * The emulator's service REST API as a hostile back end or a stolen narrow token uses it: a token is good only for
 * what its `sr` covers, segment by segment; nothing an unauthenticated caller sends is routed; nothing a caller
 * sends makes the emulator answer 5xx.
 */
describe('hostile input: the service REST API', () => {
  let stack: HostileStack;
  let dev1: DeviceClient;
  let dev2: DeviceClient;

  beforeAll(async () => {
    stack = await startHostileStack(['dev1', 'dev10', 'dev2']);
    dev1 = await connectDevice(stack.emulator, stack.emulator.deviceConnectionString('dev1'), { echo });
    dev2 = await connectDevice(stack.emulator, stack.emulator.deviceConnectionString('dev2'), { echo });
  });
  afterAll(async () => {
    await dev1.close();
    await dev2.close();
    await stack.stop();
  });

  const call = (method: string, path: string, authorization: string | null, body?: unknown) =>
    serviceCall(stack.emulator, method, path, { authorization, ...(body === undefined ? {} : { body }) });
  const invoke = { methodName: 'echo', payload: 7, responseTimeoutInSeconds: 5 };

  describe('a token scoped to <host>/devices/dev1 (iothubowner key)', () => {
    let scoped: string;
    beforeAll(() => {
      scoped = stack.policyToken('iothubowner', `${stack.emulator.info.hostName}/devices/dev1`);
    });

    it.each([
      ['reads dev1', 'GET', `/devices/dev1?${API}`, undefined, 200],
      ['invokes a method on dev1', 'POST', `/twins/dev1/methods?${API}`, invoke, 200],
      [
        'cannot read dev10 (a prefix of its id is not its path)',
        'GET',
        `/devices/dev10?${API}`,
        undefined,
        401,
      ],
      ['cannot list the registry (/devices itself)', 'GET', `/devices?${API}`, undefined, 401],
      ['cannot delete dev2', 'DELETE', `/devices/dev2?${API}`, undefined, 401],
      ['cannot create dev3', 'PUT', `/devices/dev3?${API}`, { deviceId: 'dev3' }, 401],
      ['cannot invoke a method on dev2', 'POST', `/twins/dev2/methods?${API}`, invoke, 401],
      ['cannot invoke a method on dev10', 'POST', `/twins/dev10/methods?${API}`, invoke, 401],
    ])('%s', async (_what, method, path, body, status) => {
      const response = await call(method, path, scoped, body);
      expect(response.status).toBe(status);
      if (status === 401) expect(response.headers['iothub-errorcode']).toBe('IotHubUnauthorizedAccess');
    });
  });

  it.each([
    ['sr <host>/devices/dev (a string prefix, not a segment)', '/devices/dev'],
    ['sr <host>/twins/dev1/methods', '/twins/dev1/methods'],
    ['sr <host>/devices/DEV1 (ids are case-sensitive)', '/devices/DEV1'],
  ])('refuses a token with %s on dev1', async (_what, path) => {
    const token = stack.policyToken('iothubowner', `${stack.emulator.info.hostName}${path}`);
    expect((await call('GET', `/devices/dev1?${API}`, token)).status).toBe(401);
  });

  it('lets a token scoped to <host>/devices list the registry', async () => {
    const token = stack.policyToken('registryRead', `${stack.emulator.info.hostName}/devices`);
    expect((await call('GET', `/devices?${API}`, token)).status).toBe(200);
  });

  it.each([
    ['another hub', 'other-hub.azure-devices.net'],
    ['a look-alike host', 'local-iothub.azure-devices.net.evil.example'],
  ])('refuses a genuine signature for %s', async (_what, host) => {
    const token = stack.token(host, policyKey(stack.emulator, 'iothubowner'), 'iothubowner');
    expect((await call('GET', `/devices?${API}`, token)).status).toBe(401);
  });

  it.each([
    ['a path that does not exist', `/no/such/path?${API}`],
    ['the registry', `/devices?${API}`],
    ['a malformed URL segment', `/devices/%E0%A4%A?${API}`],
  ])('answers 401, not 404, to an unauthenticated request for %s', async (_what, path) => {
    expect((await call('GET', path, null)).status).toBe(401);
  });

  it.each([
    ['a Bearer token', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x'],
    ['a token without sig', 'SharedAccessSignature sr=x&se=99999999999&skn=iothubowner'],
    ['a token with a non-numeric se', 'SharedAccessSignature sr=x&sig=y&se=soon&skn=iothubowner'],
    ['a token with broken escapes', 'SharedAccessSignature sr=%E0%A4%A&sig=%&se=1&skn=%zz'],
    ['10 KB of garbage', 'x'.repeat(10_000)],
  ])('answers 401 to %s', async (_what, authorization) => {
    expect((await call('GET', `/devices?${API}`, authorization)).status).toBe(401);
  });

  describe('with the iothubowner token', () => {
    let owner: string;
    beforeAll(() => {
      owner = stack.policyToken('iothubowner');
    });

    it.each([
      ['a future date', '2999-01-01'],
      ['the management API version', '2023-06-30'],
      ['a word', 'latest'],
      ['a long string', 'x'.repeat(5000)],
    ])('answers 400 InvalidProtocolVersion to an api-version that is %s', async (_what, version) => {
      const response = await call('GET', `/devices?api-version=${version}`, owner);
      expect(response.status).toBe(400);
      expect(response.headers['iothub-errorcode']).toBe('InvalidProtocolVersion');
    });

    it.each([
      ['arrays 20,000 levels deep', nestedArrays(20_000)],
      ['arrays 65 levels deep', nestedArrays(65)],
    ])('answers 400 to a method payload of %s', async (_what, payload) => {
      const response = await rawJson(
        `/twins/dev1/methods?${API}`,
        owner,
        `{"methodName":"echo","payload":${payload}}`,
      );
      expect(response.status).toBe(400);
    });

    it.each([
      ['invalid JSON', '{"methodName":', 400],
      ['a body over 144 KB', JSON.stringify({ methodName: 'echo', payload: 'x'.repeat(150 * 1024) }), 413],
      ['a method name with a slash', '{"methodName":"a/b"}', 400],
      ['a 301 s timeout', '{"methodName":"echo","responseTimeoutInSeconds":301}', 400],
    ])('answers %s with its 4xx', async (_what, body, status) => {
      expect((await rawJson(`/twins/dev1/methods?${API}`, owner, body)).status).toBe(status);
    });

    it('stores a device body holding __proto__ as data, without changing how other requests are read', async () => {
      const created = await rawJson(
        `/devices/dev-proto?${API}`,
        owner,
        '{"deviceId":"dev-proto","__proto__":{"payload":"polluted","status":"disabled"}}',
        'PUT',
      );
      expect(created.status).toBe(200);
      expect(JSON.parse(created.body)).toMatchObject({ deviceId: 'dev-proto', status: 'enabled' });
      // A method call without a payload still sends null: nothing reached Object.prototype.
      const answer = await rawJson(`/twins/dev1/methods?${API}`, owner, '{"methodName":"echo"}');
      expect(JSON.parse(answer.body)).toEqual({ status: 200, payload: null });
    });

    it('answers 400 to a device id of 129 characters and to one with a slash', async () => {
      expect((await call('PUT', `/devices/${'d'.repeat(129)}?${API}`, owner, {})).status).toBe(400);
      expect((await call('PUT', `/devices/a%2Fb?${API}`, owner, {})).status).toBe(400);
    });
  });

  describe('after every group', () => {
    it('still serves a normal direct method, both processes are up, and no key or signature was logged', async () => {
      await stack.expectStillServing();
    });
  });

  /** A request with a body sent as given (JSON.stringify cannot write what the attacker sends). */
  function rawJson(
    path: string,
    authorization: string,
    body: string,
    method = 'POST',
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: 'localhost',
          port: stack.emulator.info.httpsPort,
          method,
          path,
          ca: readFileSync(stack.emulator.info.caPath),
          headers: { authorization, 'content-type': 'application/json' },
        },
        (res) => {
          let data = '';
          res.on('data', (chunk: Buffer) => (data += chunk.toString()));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: data });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
});
