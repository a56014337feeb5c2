import type { Client as DeviceClient } from 'azure-iot-device';
import type { Client } from 'azure-iothub';
import {
  connectDevice,
  echo,
  hubErrorCode,
  hubErrorDocument,
  invokeMethod,
  serviceClient,
  type MethodHandler,
  startTestEmulator,
} from '../helpers/emulator';
import type { RunningEmulator } from 'iothub-emulator';

/** Direct methods through the emulator with the official service and device SDKs, unmodified, on both transports. */
describe.each(['mqtt', 'amqp'] as const)(
  'direct methods (service SDK -> emulator -> device SDK over %s)',
  (transport) => {
    const connect = (deviceId: string, methods: Record<string, MethodHandler>) =>
      connectDevice(emulator, emulator.deviceConnectionString(deviceId, transport), methods, transport);

    let emulator: RunningEmulator & { removeData: () => void };
    let service: Client;
    const devices: DeviceClient[] = [];

    beforeAll(async () => {
      emulator = await startTestEmulator({
        devices: ['echo-device', 'silent-device', 'offline-device', 'late-device', 'leaving-device'],
      });
      service = serviceClient(emulator);
      devices.push(await connect('echo-device', { echo }));
      // The first call waits for the device's subscription to methods, which the SDK makes after open().
      await service.invokeDeviceMethod('echo-device', {
        methodName: 'echo',
        payload: 'ready?',
        connectTimeoutInSeconds: 10,
      });
    });

    afterAll(async () => {
      await Promise.all(devices.map((d) => d.close()));
      await emulator.stop();
      emulator.removeData();
    });

    const invoke = (deviceId: string, methodName: string, payload: unknown, extra: object = {}) =>
      invokeMethod(service, deviceId, { methodName, payload, ...extra });

    it.each([
      ['null', null],
      ['an empty string', ''],
      ['a string', 'foo'],
      ['an object', { k1: 'v1' }],
      ['an empty object', {}],
      ['an integer', 42],
      ['a negative fraction', -3.25],
      ['an array', [1, 'two', { three: 3 }]],
    ])('echoes %s back with the device status', async (_label, payload) => {
      expect(await invoke('echo-device', 'echo', payload)).toEqual({ status: 200, payload });
    });

    it('carries a payload of exactly 128 KB both ways', async () => {
      const payload = 'x'.repeat(128 * 1024 - 2); // JSON string: 2 quotes + content = 131072 bytes
      expect(Buffer.byteLength(JSON.stringify(payload))).toBe(128 * 1024);
      expect((await invoke('echo-device', 'echo', payload)).payload).toBe(payload);
    });

    it('refuses a payload over 128 KB with 400 ArgumentInvalid', async () => {
      const payload = 'x'.repeat(128 * 1024 - 1);
      const error = await invoke('echo-device', 'echo', payload).catch((e: unknown) => e);
      expect(error).toMatchObject({ name: 'ArgumentError', response: { statusCode: 400 } });
    });

    it('answers 404001 for an unknown device', async () => {
      const error = await invoke('no-such-device', 'echo', 1).catch((e: unknown) => e);
      expect(error).toMatchObject({ response: { statusCode: 404 } });
      const document = hubErrorDocument(error);
      expect(document.errorCode).toBe(404001);
      expect(typeof document.trackingId).toBe('string');
      expect(typeof document.timestampUtc).toBe('string');
    });

    it('answers 404103 at once for a registered device that is offline', async () => {
      const started = Date.now();
      const error = await invoke('offline-device', 'echo', 1, { connectTimeoutInSeconds: 0 }).catch(
        (e: unknown) => e,
      );
      expect(hubErrorCode(error)).toBe(404103);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('delivers the call to a device that connects during connectTimeout', async () => {
      const call = invoke('late-device', 'echo', { late: true }, { connectTimeoutInSeconds: 20 });
      devices.push(await connect('late-device', { echo }));
      await expect(call).resolves.toEqual({ status: 200, payload: { late: true } });
    });

    it('answers 504101 when the device does not answer within responseTimeout, and no later', async () => {
      devices.push(
        await connect('silent-device', {
          ignore: () => undefined,
        }),
      );
      const started = Date.now();
      const error = await invoke('silent-device', 'ignore', null, {
        responseTimeoutInSeconds: 5,
        connectTimeoutInSeconds: 10,
      }).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(error).toMatchObject({ name: 'GatewayTimeoutError', response: { statusCode: 504 } });
      expect(elapsed).toBeGreaterThanOrEqual(5000);
      expect(elapsed).toBeLessThan(15000); // 5 s answer + up to 10 s subscription wait, never the SDK's default 30 s
    });

    it('fails a waiting call at once when the device disconnects', async () => {
      let received!: () => void;
      const requestSeen = new Promise<void>((resolve) => (received = resolve));
      const device = await connect('leaving-device', {
        hold: () => {
          received();
        },
      });
      const call = invoke('leaving-device', 'hold', null, {
        responseTimeoutInSeconds: 60,
        connectTimeoutInSeconds: 10,
      }).catch((e: unknown) => e);
      await requestSeen;
      const closedAt = Date.now();
      await device.close();
      const error = await call;
      expect(Date.now() - closedAt).toBeLessThan(5000);
      expect(hubErrorCode(error)).toBe(404103);
    });

    it('correlates 10 concurrent calls to one device by $rid', async () => {
      const calls = Array.from({ length: 10 }, (_, i) => invoke('echo-device', 'echo', { call: i }));
      const results = await Promise.all(calls);
      results.forEach((result, i) => {
        expect(result).toEqual({ status: 200, payload: { call: i } });
      });
    });
  },
);

describe('direct methods across 100 devices', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  const devices: DeviceClient[] = [];
  const ids = Array.from({ length: 100 }, (_, i) => `fleet-${i}`);

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ids });
    for (const id of ids) {
      devices.push(
        await connectDevice(emulator, emulator.deviceConnectionString(id), {
          whoami: (request, response) =>
            void response.send(200, { deviceId: id, echo: request.payload as unknown }),
        }),
      );
    }
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await emulator.stop();
    emulator.removeData();
  });

  it("answers one call to each device with that device's own answer", async () => {
    const service = serviceClient(emulator);
    const results = await Promise.all(
      ids.map((id, i) =>
        invokeMethod(service, id, { methodName: 'whoami', payload: i, connectTimeoutInSeconds: 20 }),
      ),
    );
    results.forEach((result, i) => {
      expect(result).toEqual({ status: 200, payload: { deviceId: ids[i], echo: i } });
    });
  });
});
