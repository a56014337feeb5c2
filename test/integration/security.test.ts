import { readFileSync } from 'node:fs';
import { Client as DeviceClient } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { createSasToken, type RunningEmulator } from 'iothub-emulator';
import {
  connectDevice,
  echo,
  invokeMethod,
  policyKey,
  registryClient,
  serviceClient,
  startTestEmulator,
} from '../helpers/emulator';
import { closed, deviceKey, inAnHour, rawConnect, serviceCall } from '../helpers/raw-clients';

describe('device authentication (MQTT CONNECT)', () => {
  let emulator: RunningEmulator & { removeData: () => void };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['dev-a', 'dev-b'] });
  });
  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('accepts a token signed with the secondary key', async () => {
    const { authentication } = (await registryClient(emulator).get('dev-a')).responseBody;
    const secondary = authentication?.symmetricKey?.secondaryKey ?? '';
    const token = createSasToken(`${emulator.info.hostName}/devices/dev-a`, secondary, inAnHour());
    const client = await rawConnect(emulator, 'dev-a', token);
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it('refuses a wrong key with UnauthorizedError, and logs one line without the token', async () => {
    const wrongKey = Buffer.alloc(32, 7).toString('base64');
    const connectionString = emulator
      .deviceConnectionString('dev-a')
      .replace(/SharedAccessKey=[^;]+/, `SharedAccessKey=${wrongKey}`);
    const client = DeviceClient.fromConnectionString(connectionString, Mqtt);
    await client.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
    await expect(client.open()).rejects.toMatchObject({ name: 'UnauthorizedError' });
    await client.close();
    const logs = await emulator.waitForLog(/refused device "dev-a" from [^\n]+: signature does not match/);
    expect(logs.split('\n').filter((line) => line.includes('refused device "dev-a"'))).toHaveLength(1);
    expect(logs).not.toContain(wrongKey);
    expect(logs).not.toMatch(/sig=|SharedAccessSignature/);
  });

  it('refuses an expired token (CONNACK 5)', async () => {
    const token = createSasToken(
      `${emulator.info.hostName}/devices/dev-a`,
      deviceKey(emulator, 'dev-a'),
      Math.floor(Date.now() / 1000) - 60,
    );
    await expect(rawConnect(emulator, 'dev-a', token)).rejects.toMatchObject({ code: 5 });
  });

  it("refuses another device's valid token (CONNACK 5)", async () => {
    const tokenForB = createSasToken(
      `${emulator.info.hostName}/devices/dev-b`,
      deviceKey(emulator, 'dev-b'),
      inAnHour(),
    );
    await expect(rawConnect(emulator, 'dev-a', tokenForB)).rejects.toMatchObject({ code: 5 });
  });

  it('refuses a password that is not a SAS token (CONNACK 4)', async () => {
    await expect(rawConnect(emulator, 'dev-a', 'hunter2')).rejects.toMatchObject({ code: 4 });
  });

  it('refuses a user name for another hub (CONNACK 4)', async () => {
    const token = createSasToken(
      `${emulator.info.hostName}/devices/dev-a`,
      deviceKey(emulator, 'dev-a'),
      inAnHour(),
    );
    await expect(
      rawConnect(emulator, 'dev-a', token, 'other-hub.azure-devices.net/dev-a/?api-version=2021-04-12'),
    ).rejects.toMatchObject({ code: 4 });
  });

  it('refuses an unregistered device (CONNACK 5)', async () => {
    const token = createSasToken(
      `${emulator.info.hostName}/devices/ghost`,
      deviceKey(emulator, 'dev-a'),
      inAnHour(),
    );
    await expect(rawConnect(emulator, 'ghost', token)).rejects.toMatchObject({ code: 5 });
  });
});

describe('device authorization (topics)', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  let tokenA: string;

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['dev-a', 'dev-b'] });
    tokenA = createSasToken(
      `${emulator.info.hostName}/devices/dev-a`,
      deviceKey(emulator, 'dev-a'),
      inAnHour(),
    );
  });
  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('lets a device subscribe to its own topics and refuses others (SUBACK 0x80)', async () => {
    const client = await rawConnect(emulator, 'dev-a', tokenA);
    const error = await client
      .subscribeAsync(
        [
          '$iothub/methods/POST/#',
          'devices/dev-a/messages/devicebound/#',
          'devices/dev-b/messages/devicebound/#',
          '#',
          '$iothub/methods/res/#',
        ],
        { qos: 0 },
      )
      .catch((e: unknown) => e as { packet?: { granted?: number[] } });
    expect(error).toMatchObject({ packet: { granted: [0, 0, 128, 128, 128] } });
    expect(client.connected).toBe(true);
    await client.endAsync();
  });

  it("closes the connection of a device that publishes to another device's topic", async () => {
    const client = await rawConnect(emulator, 'dev-a', tokenA);
    const wasClosed = closed(client);
    client.publish('devices/dev-b/messages/events/', 'spoofed', { qos: 1 });
    await wasClosed;
    await emulator.waitForLog(/dev-a" may not publish to "devices\/dev-b\/messages\/events\/"/);
    client.end(true);
  });

  it('closes the connection on a QoS 2 publish, as IoT Hub does', async () => {
    const client = await rawConnect(emulator, 'dev-a', tokenA);
    const wasClosed = closed(client);
    client.publish('devices/dev-a/messages/events/', 'qos2', { qos: 2 });
    await wasClosed;
    client.end(true);
  });

  it('closes the older connection when the same device connects again', async () => {
    const first = await rawConnect(emulator, 'dev-a', tokenA);
    const firstClosed = closed(first);
    const second = await rawConnect(emulator, 'dev-a', tokenA);
    await firstClosed;
    expect(second.connected).toBe(true);
    first.end(true);
    await second.endAsync();
  });
});

describe('service API authorization', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  const methodsPath = '/twins/dev-a/methods?api-version=2021-04-12';
  const body = { methodName: 'echo', payload: 1, responseTimeoutInSeconds: 5, connectTimeoutInSeconds: 0 };

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['dev-a'] });
  });
  afterAll(async () => {
    await emulator.stop();
    emulator.removeData();
  });

  it('answers 401 without a token', async () => {
    expect((await serviceCall(emulator, 'POST', methodsPath, { authorization: null, body })).status).toBe(
      401,
    );
  });

  it('answers 401 to a device token', async () => {
    const token = createSasToken(
      `${emulator.info.hostName}/devices/dev-a`,
      deviceKey(emulator, 'dev-a'),
      inAnHour(),
    );
    expect((await serviceCall(emulator, 'POST', methodsPath, { authorization: token, body })).status).toBe(
      401,
    );
  });

  it('answers 401 to an expired or wrongly signed policy token', async () => {
    const key = policyKey(emulator, 'service');
    const expired = createSasToken(emulator.info.hostName, key, Math.floor(Date.now() / 1000) - 1, 'service');
    const wrong = createSasToken(
      emulator.info.hostName,
      Buffer.alloc(32, 1).toString('base64'),
      inAnHour(),
      'service',
    );
    const malformed = 'SharedAccessSignature sr=x&sig=';
    for (const token of [expired, wrong, malformed])
      expect((await serviceCall(emulator, 'POST', methodsPath, { authorization: token, body })).status).toBe(
        401,
      );
  });

  it('answers 403 when the policy lacks ServiceConnect (registryRead invoking a method)', async () => {
    const error = await serviceClient(emulator, 'registryRead')
      .invokeDeviceMethod('dev-a', { methodName: 'echo', payload: 1 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ response: { statusCode: 403 } });
  });

  it("lets the 'service' policy invoke methods", async () => {
    const device = await connectDevice(emulator, emulator.deviceConnectionString('dev-a'), { echo });
    const result = await invokeMethod(serviceClient(emulator, 'service'), 'dev-a', {
      methodName: 'echo',
      payload: 'ok',
      connectTimeoutInSeconds: 10,
    });
    expect(result).toEqual({ status: 200, payload: 'ok' });
    await device.close();
  });
});
