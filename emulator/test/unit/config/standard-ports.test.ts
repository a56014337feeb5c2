import { explainListenError, PortUnavailableError } from '../../../config/listen-errors';
import { resolveEmulatorOptions } from '../../../config/options';
import {
  sdkDeviceConnectionStrings,
  sdkServiceConnectionStrings,
} from '../../../config/sdk-connection-strings';

/** Node's own listen error, as `server.listen` rejects with it. */
function listenError(code: 'EACCES' | 'EADDRINUSE' | 'EADDRNOTAVAIL', port: number): NodeJS.ErrnoException {
  return Object.assign(new Error(`listen ${code}: 127.0.0.1:${port}`), { code, syscall: 'listen', port });
}

describe('--standard-ports', () => {
  it("puts HTTPS on 443, MQTT on 8883 and IoT Hub's AMQP on 5671, over the port options", () => {
    const options = resolveEmulatorOptions({ standardPorts: true, httpsPort: 0, mqttPort: 1883 });
    expect([options.httpsPort, options.mqttPort, options.iothubAmqpsPort]).toEqual([443, 8883, 5671]);
    expect(resolveEmulatorOptions({ httpsPort: 0 }).httpsPort).toBe(0);
  });

  it('says which port could not be had and how to grant it', () => {
    const targets = [{ port: 443, what: 'HTTPS: REST and WebSockets', flag: '--https-port' }];
    const denied = explainListenError(listenError('EACCES', 443), '127.0.0.1', targets);
    expect(denied).toBeInstanceOf(PortUnavailableError);
    expect((denied as Error).message).toMatch(
      /127\.0\.0\.1:443 \(HTTPS: REST and WebSockets\): permission denied/,
    );
    expect((denied as Error).message).toContain('setcap cap_net_bind_service=+ep');
    expect((denied as Error).message).toContain('net.ipv4.ip_unprivileged_port_start=443');
    const taken = explainListenError(listenError('EADDRINUSE', 443), '127.0.0.1', targets);
    expect((taken as Error).message).toMatch(/already in use.*--https-port <port>/);
    const other = listenError('EADDRNOTAVAIL', 443);
    expect(explainListenError(other, '127.0.0.1', targets)).toBe(other);
  });
});

describe('connection strings for unmodified SDKs', () => {
  const standard = {
    hubHostName: 'hub.azure-devices.net',
    gatewayHost: 'localhost',
    httpsPort: 443,
    mqttPort: 8883,
    iothubAmqpsPort: 5671,
  };

  it('are HostName=localhost and nothing else on the standard ports', () => {
    expect(sdkServiceConnectionStrings(standard, { keyName: 'iothubowner', key: 'k' })).toEqual([
      expect.objectContaining({
        connectionString: 'HostName=localhost;SharedAccessKeyName=iothubowner;SharedAccessKey=k',
      }),
    ]);
    expect(sdkDeviceConnectionStrings(standard, 'dev1', 'k')).toEqual([
      expect.objectContaining({ connectionString: 'HostName=localhost;DeviceId=dev1;SharedAccessKey=k' }),
    ]);
  });

  it('say what works where on other ports: a bare GatewayHostName only while MQTT is on 8883', () => {
    const moved = { ...standard, httpsPort: 8443 };
    expect(sdkServiceConnectionStrings(moved, { keyName: 'p', key: 'k' })[0]?.connectionString).toBe(
      'HostName=localhost:8443;SharedAccessKeyName=p;SharedAccessKey=k',
    );
    expect(sdkDeviceConnectionStrings(moved, 'dev1', 'k').map((s) => s.connectionString)).toEqual([
      'HostName=hub.azure-devices.net;DeviceId=dev1;SharedAccessKey=k;GatewayHostName=localhost',
      'HostName=hub.azure-devices.net;DeviceId=dev1;SharedAccessKey=k;GatewayHostName=localhost:8883',
      'HostName=hub.azure-devices.net;DeviceId=dev1;SharedAccessKey=k;GatewayHostName=localhost:5671',
    ]);
    const noMqtt8883 = sdkDeviceConnectionStrings({ ...moved, mqttPort: 18883 }, 'dev1', 'k');
    expect(noMqtt8883.some((s) => s.connectionString.endsWith('GatewayHostName=localhost'))).toBe(false);
  });
});
