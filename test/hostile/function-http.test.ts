import { connect } from 'node:net';
import type { Client as DeviceClient } from 'azure-iot-device';
import { connectDevice } from '../helpers/emulator';
import { nestedArrays, nestedObjects, startHostileStack, type HostileStack } from './harness';

/**
 * The function over HTTP, through the local host, as a hostile caller uses it. Every answer must be a clear 4xx
 * (or the hub's own answer), never a 5xx caused by the input, and nothing may stop the host or the emulator.
 */
describe('hostile input: the function over HTTP', () => {
  let stack: HostileStack;
  let bigAnswerDevice: DeviceClient;

  beforeAll(async () => {
    stack = await startHostileStack(['hostile-big-answer']);
    bigAnswerDevice = await connectDevice(
      stack.emulator,
      stack.emulator.deviceConnectionString('hostile-big-answer'),
      { big: (_request, response) => void response.send(200, 'x'.repeat(200 * 1024)) },
    );
  });
  afterAll(async () => {
    await bigAnswerDevice.close();
    await stack.stop();
  });

  const post = (path: string, body?: string, headers: Record<string, string> = {}) =>
    fetch(`${stack.host.baseUrl}/api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body }),
    });

  async function expectRefusal(response: Response, status: number, code: string, target?: string) {
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: { code: string; target?: string; message: string } };
    expect(body.error.code).toBe(code);
    if (target !== undefined) expect(body.error.target).toBe(target);
    expect(body.error.message.length).toBeGreaterThan(10);
  }

  it.each([
    ['arrays 100,000 levels deep', `{"payload": ${nestedArrays(100_000)}}`],
    ['objects 100,000 levels deep', `{"payload": ${nestedObjects(100_000)}}`],
    ['arrays 65 levels deep', `{"payload": ${nestedArrays(65)}}`],
  ])('refuses a payload of %s with 400 PayloadTooDeep, target payload', async (_what, body) => {
    await expectRefusal(
      await post('devices/hostile-canary/methods/echo', body),
      400,
      'PayloadTooDeep',
      'payload',
    );
  });

  it('passes a payload 64 levels deep to the device unchanged', async () => {
    const payload = JSON.parse(nestedArrays(64)) as unknown;
    const response = await post('devices/hostile-canary/methods/echo', JSON.stringify({ payload }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 200, payload });
  });

  it.each([
    ['a body that is an array', '[1,2]', 'InvalidBody', 'body'],
    ['a body that is a string', '"payload"', 'InvalidBody', 'body'],
    ['a body that is null', 'null', 'InvalidBody', 'body'],
    ['truncated JSON', '{"payload": [1, 2', 'InvalidJson', 'body'],
    ['a lone surrogate escape followed by garbage', '{"payload": "\\ud800"} trailing', 'InvalidJson', 'body'],
    ['a __proto__ field', '{"__proto__": {"payload": 1}}', 'UnknownField', '__proto__'],
    ['a constructor field', '{"constructor": {"prototype": {"x": 1}}}', 'UnknownField', 'constructor'],
    [
      'a timeout given as a string',
      '{"responseTimeoutInSeconds": "30"}',
      'InvalidTimeout',
      'responseTimeoutInSeconds',
    ],
    [
      'a fractional timeout',
      '{"responseTimeoutInSeconds": 5.5}',
      'InvalidTimeout',
      'responseTimeoutInSeconds',
    ],
    ['a huge timeout', '{"responseTimeoutInSeconds": 1e308}', 'InvalidTimeout', 'responseTimeoutInSeconds'],
    [
      'a negative connect timeout',
      '{"connectTimeoutInSeconds": -1}',
      'InvalidTimeout',
      'connectTimeoutInSeconds',
    ],
    [
      'a payload over 128 KB',
      JSON.stringify({ payload: 'x'.repeat(128 * 1024) }),
      'PayloadTooLarge',
      'payload',
    ],
  ])('refuses %s with 400', async (_what, body, code, target) => {
    await expectRefusal(await post('devices/hostile-canary/methods/echo', body), 400, code, target);
  });

  it.each([
    ['a device id with a slash', 'devices/a%2Fb/methods/echo', 'InvalidDeviceId'],
    ['a device id with a space', 'devices/a%20b/methods/echo', 'InvalidDeviceId'],
    ['a device id of 129 characters', `devices/${'d'.repeat(129)}/methods/echo`, 'InvalidDeviceId'],
    ['a device id with a non-ASCII character', 'devices/d%C3%A9v/methods/echo', 'InvalidDeviceId'],
    ['a method name with #', 'devices/hostile-canary/methods/a%23b', 'InvalidMethodName'],
    ['a method name with +', 'devices/hostile-canary/methods/a%2Bb', 'InvalidMethodName'],
    [
      'a method name of 129 characters',
      `devices/hostile-canary/methods/${'m'.repeat(129)}`,
      'InvalidMethodName',
    ],
  ])('refuses %s with 400', async (_what, path, code) => {
    await expectRefusal(await post(path, '{}'), 400, code);
  });

  it('answers 502 BadDeviceResponse, not a hang, when the device answers with more than 128 KB', async () => {
    await expectRefusal(await post('devices/hostile-big-answer/methods/big', '{}'), 502, 'BadDeviceResponse');
  });

  it('refuses a declared body over 100 MB with 413 before reading it', async () => {
    const reply = await rawRequest(
      stack.host.port,
      'POST /api/devices/hostile-canary/methods/echo HTTP/1.1\r\nHost: localhost\r\n' +
        'Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n{"payload":',
    );
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  });

  it.each([
    [
      'a Host header with a space',
      'POST /api/devices/x/methods/y HTTP/1.1\r\nHost: a b\r\nContent-Length: 0\r\n\r\n',
    ],
    [
      'a Host header with a path',
      'POST /api/devices/x/methods/y HTTP/1.1\r\nHost: a/b\r\nContent-Length: 0\r\n\r\n',
    ],
    ['a Host header with a bracket', 'GET / HTTP/1.1\r\nHost: [::1\r\n\r\n'],
    ['an absolute target that is not a URL', 'GET http://[ HTTP/1.1\r\nHost: localhost\r\n\r\n'],
  ])('answers 400 (as Kestrel) to %s', async (_what, request) => {
    expect(await rawRequest(stack.host.port, request)).toMatch(/^HTTP\/1\.1 400 /);
  });

  describe('after every group', () => {
    it('still serves a normal direct method, both processes are up, and no key or signature was logged', async () => {
      await stack.expectStillServing();
    });
  });
});

/** Sends raw bytes to the host and resolves with what it answers until it closes (or the first response). */
function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (/\r\n\r\n/.test(received)) socket.destroy();
    });
    socket.on('close', () => {
      resolve(received);
    });
    socket.on('error', reject);
    socket.write(request);
  });
}
