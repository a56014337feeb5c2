import { deviceCall, errorCodeOf, type RawResponse } from '../helpers/device-https';
import { deviceKey } from '../helpers/raw-clients';
import { startHostileStack, type HostileStack } from './harness';

const API = 'api-version=2021-04-12';

/**
 * The device HTTPS API as a hostile or broken device uses it: a token acts for its own device only, nothing an
 * unauthenticated caller sends is routed, every refusal carries IoT Hub's status, `iothub-errorcode` header and
 * `{"Message":"ErrorCode:<Name>;..."}` body, and the emulator keeps serving the canary through it all.
 */
describe('hostile input: the device HTTPS API', () => {
  let stack: HostileStack;

  beforeAll(async () => {
    stack = await startHostileStack(['dev1', 'dev10', 'dev2']);
  });
  afterAll(async () => {
    await stack.stop();
  });

  const call = (
    method: string,
    path: string,
    authorization: string | null,
    options: { body?: Buffer | string; headers?: Record<string, string | string[]> } = {},
  ) => deviceCall(stack.emulator, method, path, { authorization, ...options });
  const events = (deviceId: string) => `/devices/${deviceId}/messages/events?${API}`;
  const bound = (deviceId: string) => `/devices/${deviceId}/messages/deviceBound`;

  /** IoT Hub's refusal: the status, the code name in the header and in the body's `ErrorCode:<Name>;` prefix. */
  function expectRefusal(response: RawResponse, status: number, code: string): void {
    expect(response.status).toBe(status);
    expect(response.headers['iothub-errorcode']).toBe(code);
    expect(errorCodeOf(response)).toBe(code);
    const body = JSON.parse(response.body.toString('utf8')) as { ExceptionMessage?: string };
    expect(body.ExceptionMessage).toMatch(/^Tracking ID:/);
  }

  describe('credentials', () => {
    it.each([
      ['no Authorization header', () => null],
      ['a Bearer token', () => 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x'],
      ['10 KB of garbage', () => 'x'.repeat(10_000)],
      [
        'a token signed with a wrong key',
        () =>
          stack.token(`${stack.emulator.info.hostName}/devices/dev1`, Buffer.alloc(32, 7).toString('base64')),
      ],
      [
        'an expired device token',
        () =>
          stack.token(
            `${stack.emulator.info.hostName}/devices/dev1`,
            deviceKey(stack.emulator, 'dev1'),
            undefined,
            Math.floor(Date.now() / 1000) - 10,
          ),
      ],
      [
        'a genuine device signature for another hub',
        () => stack.token(`other-hub.azure-devices.net/devices/dev1`, deviceKey(stack.emulator, 'dev1')),
      ],
      ['dev2’s token', () => stack.deviceToken('dev2')],
      ['dev10’s token (an id that dev1 prefixes)', () => stack.deviceToken('dev10')],
      ['a service policy token (no DeviceConnect)', () => stack.policyToken('service')],
      [
        'a DeviceConnect policy token scoped to dev2',
        () => stack.policyToken('device', `${stack.emulator.info.hostName}/devices/dev2`),
      ],
    ])('answers 401 to %s on dev1’s routes, sending and receiving', async (_what, authorization) => {
      const token = authorization();
      expectRefusal(
        await call('POST', events('dev1'), token, { body: 'x' }),
        401,
        'IotHubUnauthorizedAccess',
      );
      expectRefusal(await call('GET', `${bound('dev1')}?${API}`, token), 401, 'IotHubUnauthorizedAccess');
    });

    it.each([
      ['a path that does not exist', `/no/such/path?${API}`],
      ['an unknown device route', `/devices/dev1/messages/nowhere?${API}`],
      ['a malformed URL segment', `/devices/%E0%A4%A/messages/events?${API}`],
    ])('answers 401, not 404, to an unauthenticated request for %s', async (_what, path) => {
      expectRefusal(await call('POST', path, null, { body: 'x' }), 401, 'IotHubUnauthorizedAccess');
    });

    it('answers 401 to a device token on the service API', async () => {
      expectRefusal(
        await call('GET', `/devices/dev1?${API}`, stack.deviceToken('dev1')),
        401,
        'IotHubUnauthorizedAccess',
      );
    });

    it('lets dev1’s own token and a DeviceConnect policy token covering dev1 send', async () => {
      expect((await call('POST', events('dev1'), stack.deviceToken('dev1'), { body: 'mine' })).status).toBe(
        204,
      );
      const policy = stack.policyToken('device', `${stack.emulator.info.hostName}/devices/dev1`);
      expect((await call('POST', events('dev1'), policy, { body: 'policy' })).status).toBe(204);
    });
  });

  describe('bodies and headers', () => {
    let dev1: string;
    beforeAll(() => {
      dev1 = stack.deviceToken('dev1');
    });
    const batch = { 'content-type': 'application/vnd.microsoft.iothub.json' };

    it('answers 413 MessageTooLarge to a message over 256 KB, and to a body far over it', async () => {
      expectRefusal(
        await call('POST', events('dev1'), dev1, { body: Buffer.alloc(256 * 1024 + 1) }),
        413,
        'MessageTooLarge',
      );
      const huge: RawResponse | undefined = await call('POST', events('dev1'), dev1, {
        body: Buffer.alloc(4 * 1024 * 1024),
      }).catch(() => undefined);
      // Refused before it is read: the answer, or a reset if the server closed while the upload still ran.
      if (huge) expectRefusal(huge, 413, 'MessageTooLarge');
    });

    it('counts the properties against 256 KB too', async () => {
      const headers = { 'iothub-app-big': 'v'.repeat(8000) };
      const body = Buffer.alloc(256 * 1024 - 4000);
      expectRefusal(await call('POST', events('dev1'), dev1, { body, headers }), 413, 'MessageTooLarge');
    });

    it.each([
      [
        'JSON that does not parse',
        '[{"body": "eA==", "properties": {"iothub-app-a": "x"y"}}]',
        'IotHubFormatError',
      ],
      ['JSON that is not an array', '{"body": "eA=="}', 'ArgumentInvalid'],
      ['an empty array', '[]', 'ArgumentInvalid'],
      ['an element without a body', '[{"properties": {}}]', 'ArgumentInvalid'],
      ['a body that is not base64', '[{"body": "not base64!"}]', 'ArgumentInvalid'],
      ['properties that are not an object', '[{"body": "eA==", "properties": [1]}]', 'ArgumentInvalid'],
      [
        'a property value that is an object',
        '[{"body": "eA==", "properties": {"iothub-app-a": {}}}]',
        'ArgumentInvalid',
      ],
      [
        'a 3000-deep nesting',
        `[{"body": "eA==", "properties": ${'['.repeat(3000)}${']'.repeat(3000)}}]`,
        'ArgumentInvalid',
      ],
    ])('answers 400 to a batch of %s', async (_what, body, code) => {
      expectRefusal(await call('POST', events('dev1'), dev1, { body, headers: batch }), 400, code);
    });

    it('answers 413 to a batch whose messages together pass 256 KB', async () => {
      const element = { body: Buffer.alloc(100 * 1024).toString('base64') };
      expectRefusal(
        await call('POST', events('dev1'), dev1, {
          body: JSON.stringify([element, element, element]),
          headers: batch,
        }),
        413,
        'MessageTooLarge',
      );
    });

    it.each([
      ['an application property without a name', { 'iothub-app-': 'x' }],
      ['an application property given twice', { 'iothub-app-color': ['red', 'blue'] }],
      ['a message id given twice', { 'iothub-messageid': ['a', 'b'] }],
    ])('answers 400 ArgumentInvalid to %s', async (_what, headers) => {
      expectRefusal(await call('POST', events('dev1'), dev1, { body: 'x', headers }), 400, 'ArgumentInvalid');
    });
  });

  describe('lock tokens and paths', () => {
    let dev1: string;
    beforeAll(() => {
      dev1 = stack.deviceToken('dev1');
    });

    it.each([
      ['not a GUID', 'not-a-lock-token'],
      ['a quoted non-GUID', '%22abc%22'],
      ['a path escape', '..%2F..%2Fdevices'],
      ['4 KB of digits', '1'.repeat(4096)],
    ])('answers 400 ArgumentInvalid to an ETag that is %s', async (_what, etag) => {
      expectRefusal(await call('DELETE', `${bound('dev1')}/${etag}?${API}`, dev1), 400, 'ArgumentInvalid');
      expectRefusal(
        await call('POST', `${bound('dev1')}/${etag}/abandon?${API}`, dev1),
        400,
        'ArgumentInvalid',
      );
    });

    it('answers 412 DeviceMessageLockLost to a GUID that locks nothing, quoted or not', async () => {
      const guid = '0b5c8ad3-1f0e-4a57-9d1c-2c7bb1f5a111';
      expectRefusal(
        await call('DELETE', `${bound('dev1')}/${guid}?${API}`, dev1),
        412,
        'DeviceMessageLockLost',
      );
      expectRefusal(
        await call('DELETE', `${bound('dev1')}/%22${guid}%22?reject&${API}`, dev1),
        412,
        'DeviceMessageLockLost',
      );
      expectRefusal(
        await call('POST', `${bound('dev1')}/${guid}/abandon?${API}`, dev1),
        412,
        'DeviceMessageLockLost',
      );
    });

    it('does not let dot segments or encoded slashes reach another device', async () => {
      const dotted = `/devices/dev1/messages/events/../../../dev2/messages/events?${API}`;
      expectRefusal(await call('POST', dotted, dev1, { body: 'x' }), 401, 'IotHubUnauthorizedAccess');
      const encoded = `/devices/dev2%2Fmessages%2Fevents%2F..%2F..%2Fdev1/messages/events?${API}`;
      expectRefusal(await call('POST', encoded, dev1, { body: 'x' }), 401, 'IotHubUnauthorizedAccess');
    });

    it('answers 405 to a method the resource does not take, and 400 to a missing api-version', async () => {
      expectRefusal(await call('PUT', events('dev1'), dev1, { body: 'x' }), 405, 'MethodNotAllowed');
      expectRefusal(
        await call('POST', '/devices/dev1/messages/events', dev1, { body: 'x' }),
        400,
        'InvalidProtocolVersion',
      );
    });

    it.each(['0', '-5', 'soon', '99999999'])('answers 400 to a lock timeout of %s', async (seconds) => {
      expectRefusal(
        await call('GET', `${bound('dev1')}?${API}`, dev1, {
          headers: { 'IotHub-MessageLockTimeout': seconds },
        }),
        400,
        'ArgumentInvalid',
      );
    });

    it('answers the file upload routes as a hub without a storage account does', async () => {
      const body = JSON.stringify({ blobName: 'x.txt' });
      const headers = { 'content-type': 'application/json' };
      expectRefusal(
        await call('POST', `/devices/dev1/files?${API}`, dev1, { body, headers }),
        400,
        'DefaultStorageEndpointNotConfigured',
      );
      expectRefusal(
        await call('POST', `/devices/dev1/files/notifications?${API}`, dev1, {
          body: JSON.stringify({ correlationId: 'x', isSuccess: true }),
          headers,
        }),
        400,
        'InvalidFileUploadCorrelationId',
      );
      expectRefusal(
        await call('POST', `/devices/dev1/files?${API}`, dev1, { body: 'x'.repeat(64 * 1024), headers }),
        413,
        'MessageTooLarge',
      );
      expectRefusal(
        await call('POST', `/devices/dev2/files?${API}`, dev1, { body, headers }),
        401,
        'IotHubUnauthorizedAccess',
      );
    });
  });

  it('keeps serving: the canary still answers, and no secret reached the logs', async () => {
    await stack.expectStillServing();
  });
});
