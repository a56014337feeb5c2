import { readFileSync } from 'node:fs';
import { Client as DeviceClient } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { SimulatedDevice } from '../../device-sim/simulated-device';
import {
  hubErrorCode,
  invokeMethod,
  makeTempDir,
  registryClient,
  serviceClient,
  startTestEmulator,
} from '../helpers/emulator';
import { closed, deviceToken, rawConnect, serviceCall } from '../helpers/raw-clients';

describe('device registry over REST (azure-iothub Registry)', () => {
  let emulator: Awaited<ReturnType<typeof startTestEmulator>>;

  beforeAll(async () => {
    emulator = await startTestEmulator();
  });
  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('creates a device with generated keys, reads, lists and deletes it', async () => {
    const registry = registryClient(emulator);
    const created = (await registry.create({ deviceId: 'reg-1' })).responseBody;
    expect(created).toMatchObject({ deviceId: 'reg-1', status: 'enabled', connectionState: 'Disconnected' });
    expect(Buffer.from(created.authentication?.symmetricKey?.primaryKey ?? '', 'base64')).toHaveLength(32);
    expect((await registry.get('reg-1')).responseBody.etag).toBe(created.etag);
    expect((await registry.list()).responseBody.map((d) => d.deviceId)).toContain('reg-1');
    await expect(registry.create({ deviceId: 'reg-1' })).rejects.toMatchObject({
      name: 'DeviceAlreadyExistsError',
    });
    await registry.delete('reg-1');
    await expect(registry.get('reg-1')).rejects.toMatchObject({ name: 'DeviceNotFoundError' });
  });

  it('refuses invalid device ids and keys with 400', async () => {
    const registry = registryClient(emulator);
    await expect(registry.create({ deviceId: 'has space' })).rejects.toMatchObject({ name: 'ArgumentError' });
    await expect(registry.create({ deviceId: 'x'.repeat(129) })).rejects.toMatchObject({
      name: 'ArgumentError',
    });
    await expect(
      registry.create({
        deviceId: 'bad-key',
        authentication: { symmetricKey: { primaryKey: 'short', secondaryKey: 'short' } },
      }),
    ).rejects.toMatchObject({ name: 'ArgumentError' });
  });

  it('updates with If-Match and refuses a stale etag with 412', async () => {
    const created = (await registryClient(emulator).create({ deviceId: 'reg-etag' })).responseBody;
    const path = '/devices/reg-etag?api-version=2021-04-12';
    const put = (etag: string) =>
      serviceCall(emulator, 'PUT', path, {
        body: { deviceId: 'reg-etag', status: 'enabled' },
        headers: { 'if-match': etag },
      });
    const updated = await put(created.etag ?? '');
    expect(updated.status).toBe(200);
    expect((JSON.parse(updated.body) as { etag: string }).etag).not.toBe(created.etag);
    const stale = await put(created.etag ?? '');
    expect(stale.status).toBe(412);
    expect(stale.body).toContain('ErrorCode:PreconditionFailed');
    expect((await serviceCall(emulator, 'PUT', path, { body: { deviceId: 'reg-etag' } })).status).toBe(409);
  });

  it('drops a connected device when it is disabled, refuses it while disabled, and 404s its methods', async () => {
    const registry = registryClient(emulator);
    const device = (await registry.create({ deviceId: 'reg-disable' })).responseBody;
    const connectionString = `HostName=${emulator.info.hostName};DeviceId=reg-disable;SharedAccessKey=${device.authentication?.symmetricKey?.primaryKey ?? ''};GatewayHostName=localhost:${emulator.info.mqttPort}`;
    const key = device.authentication?.symmetricKey?.primaryKey ?? '';
    const client = await rawConnect(emulator, 'reg-disable', deviceToken(emulator, 'reg-disable', key));
    const dropped = closed(client);
    await registry.update({ deviceId: 'reg-disable', status: 'disabled', etag: '*' });
    await dropped;
    client.end(true);
    await expect(
      rawConnect(emulator, 'reg-disable', deviceToken(emulator, 'reg-disable', key)),
    ).rejects.toMatchObject({ code: 5 });

    const again = DeviceClient.fromConnectionString(connectionString, Mqtt);
    await again.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
    await expect(again.open()).rejects.toMatchObject({ name: 'UnauthorizedError' });
    await again.close();

    const error = await serviceClient(emulator)
      .invokeDeviceMethod('reg-disable', { methodName: 'echo', payload: 1 })
      .catch((e: unknown) => e);
    expect(hubErrorCode(error)).toBe(404001);
  });

  // 2023-06-30 is an api-version of IoT Hub's management API (ARM), not of its service API; 2999-01-01 is no
  // version at all. The service API versions are those its REST reference publishes (2020-09-30, 2021-04-12...).
  it.each(['', '?api-version=latest', '?api-version=2999-01-01', '?api-version=2023-06-30'])(
    'refuses api-version "%s" with 400 InvalidProtocolVersion',
    async (query) => {
      const response = await serviceCall(emulator, 'GET', `/devices${query}`);
      expect(response.status).toBe(400);
      expect(response.headers['iothub-errorcode']).toBe('InvalidProtocolVersion');
      expect(response.body).toContain('api-version');
    },
  );

  it.each(['2020-09-30', '2021-04-12'])('accepts the published api-version %s', async (version) => {
    expect((await serviceCall(emulator, 'GET', `/devices?api-version=${version}`)).status).toBe(200);
  });

  it('answers 404 for module methods until modules exist', async () => {
    await registryClient(emulator).create({ deviceId: 'reg-modules' });
    const error = await serviceClient(emulator)
      .invokeDeviceMethod('reg-modules', 'some-module', { methodName: 'echo', payload: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ response: { statusCode: 404 } });
  });
});

describe('emulator restart', () => {
  it('keeps the registry and keys, and a running simulator reconnects and answers methods again', async () => {
    const data = makeTempDir();
    const first = await startTestEmulator({ dataDir: data.path, devices: ['sim-restart'] });
    const connectionString = first.deviceConnectionString('sim-restart');
    const ports = {
      mqttPort: first.info.mqttPort,
      httpsPort: first.info.httpsPort,
      iothubAmqpsPort: first.info.iothubAmqpsPort,
    };
    await registryClient(first).create({ deviceId: 'created-over-rest' });

    const lines: string[] = [];
    let simulator!: SimulatedDevice;
    const reconnected = new Promise<void>((resolve) => {
      let disconnects = 0;
      const log = (line: string) => {
        lines.push(line);
        if (line.includes('disconnected')) disconnects++;
        if (disconnects > 0 && line.endsWith('] connected')) resolve();
      };
      simulator = new SimulatedDevice({
        connectionString,
        ca: readFileSync(first.info.caPath, 'utf8'),
        intervalSeconds: 3600,
        log,
      });
    });
    await simulator.start();
    const before = await invokeMethod(serviceClient(first), 'sim-restart', {
      methodName: 'SetTelemetryInterval',
      payload: 60,
      connectTimeoutInSeconds: 10,
    });
    expect(before).toEqual({ status: 200, payload: { interval: 60 } });

    await first.stop();
    const second = await startTestEmulator({ dataDir: data.path, ...ports });
    try {
      expect(second.info.serviceConnectionString).toBe(first.info.serviceConnectionString); // same policy keys
      expect((await registryClient(second).get('created-over-rest')).responseBody.deviceId).toBe(
        'created-over-rest',
      );
      await reconnected;
      const after = await invokeMethod(serviceClient(second), 'sim-restart', {
        methodName: 'SetTelemetryInterval',
        payload: '120',
        connectTimeoutInSeconds: 30,
      });
      expect(after).toEqual({ status: 200, payload: { interval: 120 } });
      expect(simulator.intervalSeconds).toBe(120);
    } finally {
      await simulator.stop();
      await second.stop();
      data.remove();
    }
  });
});
