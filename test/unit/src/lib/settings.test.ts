import { resolve } from 'node:path';
import { SettingsError } from '../../../../src/lib/errors';
import { readIotHubSettings } from '../../../../src/lib/settings';
import { thrownBy } from '../../../../devkit/thrown-by';

const key = Buffer.alloc(32, 5).toString('base64');
const azure = `HostName=my-hub.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=${key}`;

const settingsError = (env: NodeJS.ProcessEnv) => thrownBy(SettingsError, () => readIotHubSettings(env));

describe('readIotHubSettings', () => {
  it('reads an Azure service connection string', () => {
    expect(readIotHubSettings({ IOTHUB_SERVICE_CONNECTION_STRING: azure })).toMatchObject({
      auth: 'shared-access-key',
      hostName: 'my-hub.azure-devices.net',
      keyName: 'service',
    });
    expect(readIotHubSettings({ IOTHUB_SERVICE_CONNECTION_STRING: azure })).not.toHaveProperty('emulator');
  });

  it("reads the emulator's gateway and CA from UseDevelopmentEmulator=true", () => {
    const settings = readIotHubSettings({
      IOTHUB_SERVICE_CONNECTION_STRING: `${azure};GatewayHostName=localhost:18443;UseDevelopmentEmulator=true`,
      IOTHUB_EMULATOR_CA_CERT: 'certs/ca.pem',
    });
    expect(settings).toMatchObject({
      hostName: 'my-hub.azure-devices.net',
      emulator: { host: 'localhost', port: 18443, caPath: resolve('certs/ca.pem') },
    });
    expect(
      readIotHubSettings({ IOTHUB_SERVICE_CONNECTION_STRING: `${azure};UseDevelopmentEmulator=true` }),
    ).toMatchObject({
      emulator: { host: 'localhost', port: 8443 },
    });
  });

  it("reads the emulator's IoT Hub AMQPS endpoint from AmqpGatewayHostName, IoT Hub's port 5671 by default", () => {
    const emulator = (extra: string) =>
      readIotHubSettings({
        IOTHUB_SERVICE_CONNECTION_STRING: `${azure};GatewayHostName=localhost:18443;${extra}UseDevelopmentEmulator=true`,
      });
    expect(emulator('AmqpGatewayHostName=127.0.0.1:15671;')).toMatchObject({
      emulator: { host: 'localhost', port: 18443, amqp: { host: '127.0.0.1', port: 15671 } },
    });
    expect(emulator('AmqpGatewayHostName=[::1]:15671;')).toMatchObject({
      emulator: { amqp: { host: '::1', port: 15671 } },
    });
    expect(emulator('AmqpGatewayHostName=gateway.local;')).toMatchObject({
      emulator: { amqp: { host: 'gateway.local', port: 5671 } },
    });
    expect(emulator('')).toMatchObject({ emulator: { amqp: { host: 'localhost', port: 5671 } } });
    // Against Azure the key means nothing: the SDK connects to the hub's HostName.
    expect(
      readIotHubSettings({ IOTHUB_SERVICE_CONNECTION_STRING: `${azure};AmqpGatewayHostName=localhost:1` }),
    ).not.toHaveProperty('emulator');
  });

  it.each(['localhost:0', 'localhost:65536', 'local host:5671', 'amqps://localhost:5671', 'localhost:'])(
    'refuses AmqpGatewayHostName=%s with a message naming the key',
    (value) => {
      const error = settingsError({
        IOTHUB_SERVICE_CONNECTION_STRING: `${azure};AmqpGatewayHostName=${value};UseDevelopmentEmulator=true`,
      });
      expect(error.setting).toBe('IOTHUB_SERVICE_CONNECTION_STRING');
      expect(error.message).toMatch(/invalid AmqpGatewayHostName; use host:port, e\.g\. localhost:5671/);
      expect(error.message).not.toContain(key);
    },
  );

  it('uses a managed identity with IOTHUB_HOST_NAME when there is no connection string', () => {
    expect(readIotHubSettings({ IOTHUB_HOST_NAME: 'my-hub.azure-devices.net' })).toEqual({
      auth: 'token-credential',
      hostName: 'my-hub.azure-devices.net',
    });
  });

  it('names the setting to fix, and never echoes the key', () => {
    expect(settingsError({}).setting).toBe('IOTHUB_SERVICE_CONNECTION_STRING');
    expect(settingsError({ IOTHUB_HOST_NAME: 'https://my-hub.azure-devices.net/' }).setting).toBe(
      'IOTHUB_HOST_NAME',
    );
    const deviceString = `HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=${key}`;
    const error = settingsError({ IOTHUB_SERVICE_CONNECTION_STRING: deviceString });
    expect(error.message).toMatch(/SharedAccessKeyName/);
    expect(error.message).not.toContain(key);
    expect(settingsError({ IOTHUB_SERVICE_CONNECTION_STRING: 'garbage' }).setting).toBe(
      'IOTHUB_SERVICE_CONNECTION_STRING',
    );
    expect(
      settingsError({ IOTHUB_SERVICE_CONNECTION_STRING: `${azure};UseDevelopmentEmulator=maybe` }).message,
    ).toMatch(/true or false/);
    expect(
      settingsError({
        IOTHUB_SERVICE_CONNECTION_STRING: `${azure};GatewayHostName=localhost:99999;UseDevelopmentEmulator=true`,
      }).message,
    ).toMatch(/GatewayHostName/);
  });
});
