import { readFileSync } from 'node:fs';
import { HttpRequest, InvocationContext, type HttpResponseInit } from '@azure/functions';
import type { Client as DeviceClient } from 'azure-iot-device';
import { SimulatedDevice } from '../../device-sim/simulated-device';
import type { RunningEmulator } from 'iothub-emulator';
import { emulatorHostSettings } from '../../local/emulator-settings';
import { startLocalHost, type LocalHostProcess } from '../../local/host/host-process';
import { createInvokeDeviceMethodHandler } from '../../src/functions/invokeDeviceMethod';
import { createIotHubClient } from '../../src/lib/iothub-client';
import { readIotHubSettings } from '../../src/lib/settings';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import { connectDevice, echo, serviceClient, startTestEmulator } from '../helpers/emulator';

interface ErrorBody {
  error: { code: string; message: string; target?: string; trackingId?: string };
}

describe('invokeDeviceMethod over HTTP through the local Functions host', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let host: LocalHostProcess;
  let simulator: SimulatedDevice;
  const devices: DeviceClient[] = [];
  const telemetryTimes: number[] = [];

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['sim-device-01', 'echo-01', 'silent-01', 'offline-01'] });
    // All settings point at this test's emulator: the app's telemetry function never reads one a developer may
    // have running.
    host = await startLocalHost(emulatorHostSettings(emulator.info));
    simulator = new SimulatedDevice({
      connectionString: emulator.deviceConnectionString('sim-device-01'),
      ca: readFileSync(emulator.info.caPath, 'utf8'),
      intervalSeconds: 1,
      log: () => undefined,
    });
    simulator.on('telemetry', () => telemetryTimes.push(Date.now()));
    await simulator.start();
    devices.push(await connectDevice(emulator, emulator.deviceConnectionString('echo-01'), { echo }));
    devices.push(
      await connectDevice(emulator, emulator.deviceConnectionString('silent-01'), {
        ignore: () => undefined,
      }),
    );
  });

  afterAll(async () => {
    await simulator.stop();
    await Promise.all(devices.map((d) => d.close()));
    await host.stop();
    await emulator.stop();
    emulator.removeData();
  });

  const post = (path: string, body?: string) =>
    fetch(`${host.baseUrl}/api/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
    });

  it('changes the telemetry interval of the simulated device (SetTelemetryInterval end to end)', async () => {
    const response = await post(
      'devices/sim-device-01/methods/SetTelemetryInterval',
      JSON.stringify({ payload: 2, connectTimeoutInSeconds: 10 }),
    );
    const answeredAt = Date.now();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ status: 200, payload: { interval: 2 } });
    expect(simulator.intervalSeconds).toBe(2);

    // Two more messages on the new schedule: each comes about 2 s after the previous one, not 1 s.
    const seen = telemetryTimes.length;
    await new Promise<void>((resolve) => {
      const onTelemetry = () => {
        if (telemetryTimes.length >= seen + 2) {
          simulator.off('telemetry', onTelemetry);
          resolve();
        }
      };
      simulator.on('telemetry', onTelemetry);
    });
    const [next = 0, after = 0] = telemetryTimes.slice(seen);
    expect(next - answeredAt).toBeGreaterThanOrEqual(1900);
    expect(after - next).toBeGreaterThanOrEqual(1900);
  });

  it("returns the device's refusal of a bad interval as its status and payload", async () => {
    const response = await post(
      'devices/sim-device-01/methods/SetTelemetryInterval',
      JSON.stringify({ payload: 'often' }),
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: number; payload: { message: string } };
    expect(body.status).toBe(400);
    expect(body.payload.message).toMatch(/whole number of seconds from 1 to 3600/);
  });

  it('gets an immediate 404 from the simulator for a method it does not define, naming the ones it does', async () => {
    const response = await post(
      'devices/sim-device-01/methods/Reboot',
      JSON.stringify({ payload: {}, responseTimeoutInSeconds: 30 }),
    );
    // Without an answer the call would end in 504 after the 30 s response timeout.
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: number; payload: { message: string } };
    expect(body.status).toBe(404);
    expect(body.payload.message).toBe(
      'Direct method Reboot not defined. This device supports: SetTelemetryInterval.',
    );
  });

  it('sends a null payload when there is no body', async () => {
    const response = await post('devices/echo-01/methods/echo');
    expect(await response.json()).toEqual({ status: 200, payload: null });
  });

  it('echoes a JSON payload through the whole chain', async () => {
    const payload = { k1: 'v1', list: [1, 2, 3], nested: { ok: true } };
    const response = await post('devices/echo-01/methods/echo', JSON.stringify({ payload }));
    expect(await response.json()).toEqual({ status: 200, payload });
  });

  it.each([
    ['invalid JSON', 'devices/echo-01/methods/echo', '{"payload": ', 'InvalidJson', 'body'],
    ['a non-object body', 'devices/echo-01/methods/echo', '[1,2]', 'InvalidBody', 'body'],
    [
      'an unknown field',
      'devices/echo-01/methods/echo',
      '{"payload":1,"responseTimeout":10}',
      'UnknownField',
      'responseTimeout',
    ],
    [
      'a response timeout below 5',
      'devices/echo-01/methods/echo',
      '{"responseTimeoutInSeconds":4}',
      'InvalidTimeout',
      'responseTimeoutInSeconds',
    ],
    [
      'a fractional connect timeout',
      'devices/echo-01/methods/echo',
      '{"connectTimeoutInSeconds":1.5}',
      'InvalidTimeout',
      'connectTimeoutInSeconds',
    ],
    [
      'a connect timeout as a string',
      'devices/echo-01/methods/echo',
      '{"connectTimeoutInSeconds":"10"}',
      'InvalidTimeout',
      'connectTimeoutInSeconds',
    ],
    [
      'an oversized payload',
      'devices/echo-01/methods/echo',
      JSON.stringify({ payload: 'x'.repeat(128 * 1024) }),
      'PayloadTooLarge',
      'payload',
    ],
    ['an invalid device id', 'devices/bad%20id/methods/echo', '{}', 'InvalidDeviceId', 'deviceId'],
    ['an invalid method name', 'devices/echo-01/methods/a%2Bb', '{}', 'InvalidMethodName', 'methodName'],
  ])('answers 400 to %s, naming the field', async (_label, path, body, code, target) => {
    const response = await post(path, body);
    expect(response.status).toBe(400);
    const error = ((await response.json()) as ErrorBody).error;
    expect(error).toMatchObject({ code, target });
    expect(error.message.length).toBeGreaterThan(10);
  });

  it('answers 404 DeviceNotFound with the hub trackingId for an unknown device', async () => {
    const response = await post('devices/nobody/methods/echo', '{}');
    expect(response.status).toBe(404);
    const { error } = (await response.json()) as ErrorBody;
    expect(error.code).toBe('DeviceNotFound');
    expect(error.trackingId).toMatch(/\S+/);
  });

  it('answers 404 DeviceNotOnline for a registered device that is offline', async () => {
    const response = await post('devices/offline-01/methods/echo', '{"connectTimeoutInSeconds": 0}');
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).error.code).toBe('DeviceNotOnline');
  });

  it('answers 504 GatewayTimeout when the device does not answer', async () => {
    const response = await post(
      'devices/silent-01/methods/ignore',
      '{"responseTimeoutInSeconds": 5, "connectTimeoutInSeconds": 10}',
    );
    expect(response.status).toBe(504);
    expect(((await response.json()) as ErrorBody).error.code).toBe('GatewayTimeout');
  });

  it('serves only POST on the function route, and nothing outside it', async () => {
    expect((await fetch(`${host.baseUrl}/api/devices/echo-01/methods/echo`)).status).toBe(404);
    expect((await post('devices/echo-01/methods')).status).toBe(404);
  });
  it('leaves $Default free: the telemetry function reads with `functions` while another reader uses $Default', async () => {
    // The function logs the simulator's telemetry: it holds its partitions (with an owner level) in `functions`.
    await host.waitForLog(/\[deviceTelemetry\] Telemetry device=sim-device-01 /);
    const reader = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
    const errors: string[] = [];
    try {
      const deviceId = await new Promise<unknown>((resolve) => {
        const subscription = reader.subscribe(
          {
            processEvents: (events) => {
              const first = events[0];
              if (first)
                void subscription.close().then(() => {
                  resolve(first.systemProperties?.['iothub-connection-device-id']);
                });
              return Promise.resolve();
            },
            processError: (error) => {
              errors.push(error.message);
              return Promise.resolve();
            },
          },
          { startPosition: earliestEventPosition, maxWaitTimeInSeconds: 1 },
        );
      });
      expect(deviceId).toBe('sim-device-01');
      expect(errors).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

describe('invokeDeviceMethod called as a handler', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let device: DeviceClient;

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['handler-echo'] });
    device = await connectDevice(emulator, emulator.deviceConnectionString('handler-echo'), { echo });
    // Wait until the device is subscribed, so that calls below need no connect timeout.
    await serviceClient(emulator).invokeDeviceMethod('handler-echo', {
      methodName: 'echo',
      payload: 0,
      connectTimeoutInSeconds: 10,
    });
  });
  afterAll(async () => {
    await device.close();
    await emulator.stop();
    emulator.removeData();
  });

  const call = (
    handler: ReturnType<typeof createInvokeDeviceMethodHandler>,
    body: string,
    deviceId = 'handler-echo',
  ) => {
    const request = new HttpRequest({
      method: 'POST',
      url: `http://localhost/api/devices/${deviceId}/methods/echo`,
      params: { deviceId, methodName: 'echo' },
      body: { string: body },
    });
    return handler(
      request,
      new InvocationContext({ functionName: 'invokeDeviceMethod', logHandler: () => undefined }),
    );
  };
  const errorOf = (response: HttpResponseInit) => (response.jsonBody as ErrorBody).error;
  /** The handler with its own client for this service connection string. */
  const handlerFor = (connectionString: string) => {
    const client = createIotHubClient(
      readIotHubSettings({
        IOTHUB_SERVICE_CONNECTION_STRING: connectionString,
        IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
      }),
    );
    return createInvokeDeviceMethodHandler(() => client);
  };

  it("returns the device's answer", async () => {
    const response = await call(
      handlerFor(emulator.info.serviceConnectionString),
      '{"payload": {"k1": "v1"}}',
    );
    expect(response).toMatchObject({ status: 200, jsonBody: { status: 200, payload: { k1: 'v1' } } });
  });

  it('answers 502 IotHubAuthenticationFailed for a wrong key, without leaking it', async () => {
    const wrongKey = Buffer.alloc(32, 9).toString('base64');
    const connectionString = emulator.info.serviceConnectionString.replace(
      /SharedAccessKey=[^;]+/,
      `SharedAccessKey=${wrongKey}`,
    );
    const response = await call(handlerFor(connectionString), '{}');
    expect(response.status).toBe(502);
    expect(errorOf(response).code).toBe('IotHubAuthenticationFailed');
    expect(JSON.stringify(response.jsonBody)).not.toContain(wrongKey);
    expect(JSON.stringify(response.jsonBody)).not.toMatch(/SharedAccessSignature sr=/);
  });

  it('answers 502 IotHubAccessDenied when the policy lacks ServiceConnect', async () => {
    const key = (
      JSON.parse(readFileSync(`${emulator.info.dataDir}/state.json`, 'utf8')) as {
        policies: { keyName: string; primaryKey: string }[];
      }
    ).policies.find((p) => p.keyName === 'registryRead')?.primaryKey;
    const connectionString = emulator.info.serviceConnectionString.replace(
      /SharedAccessKeyName=[^;]+;SharedAccessKey=[^;]+/,
      `SharedAccessKeyName=registryRead;SharedAccessKey=${key ?? ''}`,
    );
    const response = await call(handlerFor(connectionString), '{}');
    expect(response.status).toBe(502);
    expect(errorOf(response).code).toBe('IotHubAccessDenied');
  });

  it('answers 502 IotHubUnreachable when nothing listens at the hub address', async () => {
    const connectionString = emulator.info.serviceConnectionString.replace(
      /GatewayHostName=localhost:\d+/,
      'GatewayHostName=localhost:1',
    );
    const response = await call(handlerFor(connectionString), '{}');
    expect(response.status).toBe(502);
    expect(errorOf(response).code).toBe('IotHubUnreachable');
  });

  it('answers 500 ConfigurationError naming the setting when none is configured', async () => {
    const response = await call(
      createInvokeDeviceMethodHandler(() => createIotHubClient(readIotHubSettings({}))),
      '{}',
    );
    expect(response.status).toBe(500);
    expect(errorOf(response)).toMatchObject({
      code: 'ConfigurationError',
      target: 'IOTHUB_SERVICE_CONNECTION_STRING',
    });
    expect(errorOf(response).message).toContain('IOTHUB_HOST_NAME');
  });
});
