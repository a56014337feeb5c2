import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { NoRetry } from 'azure-iot-common';
import { readEmulatorSettings, type RunningEmulator } from 'iothub-emulator';
import { ModuleClient, type DeviceMethodRequest, type DeviceMethodResponse } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import {
  connectDevice,
  invokeMethod,
  registryClient,
  serviceClient,
  startTestEmulator,
} from '../helpers/emulator';

/** The programmatic API beyond start and stop: reset between tests, the settings file, the health check. */
describe('the emulator package API', () => {
  let emulator: RunningEmulator & { removeData: () => void };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['kept-1'] });
  });

  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('reset() removes every device and makes the start devices again with new keys', async () => {
    await emulator.ensureDevices(['temporary-1']);
    const before = emulator.deviceConnectionString('kept-1');
    const device = await connectDevice(emulator, emulator.deviceConnectionString('temporary-1'));
    // Without retries the SDK reports the end of its connection at once instead of reconnecting.
    device.setRetryPolicy(new NoRetry());
    const disconnected = new Promise<void>((resolve) => {
      device.once('disconnect', () => {
        resolve();
      });
    });

    await emulator.reset();

    const registry = registryClient(emulator);
    const ids = (await registry.list()).responseBody.map((d) => d.deviceId);
    expect(ids).toEqual(['kept-1']);
    // The deleted device's connection ends, as IoT Hub closes a deleted device's connection.
    await disconnected;
    await device.close();
    expect(() => emulator.deviceConnectionString('temporary-1')).toThrow(/not created through this emulator/);
    // New keys: the old string is refused, the new one connects.
    const after = emulator.deviceConnectionString('kept-1');
    expect(after).not.toBe(before);
    await expect(connectDevice(emulator, before)).rejects.toThrow(/Not authorized|Unauthorized/i);
    const again = await connectDevice(emulator, after);
    await again.close();
  });

  it('ensureModules() creates modules (and their devices) whose strings the module SDK connects with', async () => {
    const strings = await emulator.ensureModules([{ deviceId: 'edge-1', moduleId: 'filter' }]);
    expect(Object.keys(strings)).toEqual(['edge-1/filter']);
    expect(emulator.moduleConnectionString('edge-1', 'filter')).toBe(strings['edge-1/filter']);
    expect(strings['edge-1/filter']).toMatch(/;DeviceId=edge-1;ModuleId=filter;SharedAccessKey=/);
    // Asked again: the same module, the same key.
    expect(await emulator.ensureModules([{ deviceId: 'edge-1', moduleId: 'filter' }])).toEqual(strings);
    const module = ModuleClient.fromConnectionString(
      emulator.moduleConnectionString('edge-1', 'filter'),
      Mqtt,
    );
    await module.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
    await module.open();
    try {
      // ModuleClient types its callback's arguments as optional (a DoubleValueCallback); the SDK passes both.
      module.onMethod('ping', (request?: DeviceMethodRequest, response?: DeviceMethodResponse) => {
        void response?.send(200, { pong: request?.payload as unknown });
      });
      const result = await invokeMethod(
        serviceClient(emulator),
        'edge-1',
        { methodName: 'ping', payload: 7 },
        'filter',
      );
      expect(result).toEqual({ status: 200, payload: { pong: 7 } });
    } finally {
      await module.close();
    }
  });

  it('keeps its settings in the data directory, as readEmulatorSettings() reads them', () => {
    const settings = readEmulatorSettings(join(emulator.info.dataDir, 'settings.json'));
    expect(settings).toMatchObject({
      name: 'iothub-emulator',
      pid: emulator.pid,
      httpsPort: emulator.info.httpsPort,
      serviceConnectionString: emulator.info.serviceConnectionString,
      healthUrl: `https://localhost:${emulator.info.httpsPort}/health`,
    });
    expect(() => readEmulatorSettings('')).toThrow(/IOTHUB_EMULATOR_SETTINGS is not set/);
  });

  it('answers GET /health without a token, and still 401 for the service API without one', async () => {
    const get = (path: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        request(
          {
            host: '127.0.0.1',
            port: emulator.info.httpsPort,
            path,
            ca: readFileSync(emulator.info.caPath),
            servername: 'localhost',
          },
          (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on('end', () => {
              resolve({ status: response.statusCode ?? 0, body });
            });
          },
        )
          .on('error', reject)
          .end();
      });
    const health = await get('/health');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toMatchObject({ status: 'Healthy', hubName: emulator.info.hubName });
    expect(health.body).not.toMatch(/SharedAccessKey|primaryKey/);
    expect((await get('/devices?api-version=2021-04-12')).status).toBe(401);
  });
});
