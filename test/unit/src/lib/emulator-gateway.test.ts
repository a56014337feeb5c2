import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type TLSSocket } from 'node:tls';
import { loadOrCreateTlsMaterial } from 'iothub-emulator/in-process';
import { SettingsError } from '../../../../src/lib/errors';
import { amqpsUri, EmulatorAmqp } from '../../../../src/lib/emulator-gateway';
import { readIotHubSettings, type EmulatorEndpoint } from '../../../../src/lib/settings';
import { makeTempDir } from '../../../helpers/emulator';
import { thrownBy } from '../../../../devkit/thrown-by';

const key = Buffer.alloc(32, 5).toString('base64');

function emulatorEndpoint(amqpGateway: string, caPath: string): EmulatorEndpoint {
  const settings = readIotHubSettings({
    IOTHUB_SERVICE_CONNECTION_STRING:
      `HostName=my-hub.azure-devices.net;SharedAccessKeyName=service;SharedAccessKey=${key};` +
      `GatewayHostName=127.0.0.1:8443;AmqpGatewayHostName=${amqpGateway};UseDevelopmentEmulator=true`,
    IOTHUB_EMULATOR_CA_CERT: caPath,
  });
  if (settings.auth !== 'shared-access-key' || !settings.emulator)
    throw new Error('expected emulator settings');
  return settings.emulator;
}

describe('EmulatorAmqp (the AMQP connection azure-iothub gets for the emulator)', () => {
  const dir = makeTempDir('emulator-gateway-test-');
  afterAll(() => {
    dir.remove();
  });

  it("connects to the AMQPS gateway over TLS trusting the emulator's CA, whatever URI the transport asks for", async () => {
    const tls = await loadOrCreateTlsMaterial(dir.path);
    const server = createServer({ key: tls.key, cert: tls.cert });
    server.listen(0, 'localhost');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const amqp = new EmulatorAmqp(emulatorEndpoint(`localhost:${port}`, tls.caPath));
      const secured = once(server, 'secureConnection') as Promise<[TLSSocket]>;
      const connected = new Promise<Error | null>((resolve) => {
        // What azure-iothub's Amqp transport passes: the hub's host name, IoT Hub's port 5671 implied.
        amqp.connect({ uri: 'amqps://my-hub.azure-devices.net', userAgentString: 'test' }, (error) => {
          resolve(error);
        });
      });
      // The TLS handshake completes only if the client reached this port and accepted the emulator's certificate.
      const [socket] = await secured;
      socket.destroy();
      // No AMQP was spoken, so the connection attempt fails; what matters is where it went.
      expect(await connected).toBeInstanceOf(Error);
    } finally {
      server.close();
    }
  });

  it('names IOTHUB_EMULATOR_CA_CERT when the CA certificate cannot be read', () => {
    const error = thrownBy(
      SettingsError,
      () => new EmulatorAmqp(emulatorEndpoint('localhost:5671', join(dir.path, 'missing.pem'))),
    );
    expect(error.setting).toBe('IOTHUB_EMULATOR_CA_CERT');
    expect(error.message).toContain('missing.pem');
  });

  it('writes IPv6 hosts in brackets', () => {
    expect(amqpsUri({ host: '::1', port: 15671 })).toBe('amqps://[::1]:15671');
    expect(amqpsUri({ host: 'localhost', port: 5671 })).toBe('amqps://localhost:5671');
  });
});
