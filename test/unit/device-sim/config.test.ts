import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withDeviceEnvFile } from '../../../device-sim/device-env-file';
import { DEVICE_SIM_USAGE, parseDeviceSimArgs } from '../../../device-sim/config';
import { simulatedDeviceIds } from '../../../device-sim/fleet';

describe('device simulator flags and environment', () => {
  const cs = `HostName=h.azure-devices.net;DeviceId=d;SharedAccessKey=${Buffer.alloc(32).toString('base64')}`;

  it('takes the connection string from the flag or the environment', () => {
    expect(parseDeviceSimArgs([], { IOTHUB_DEVICE_CONNECTION_STRING: cs })).toMatchObject({
      kind: 'run',
      connectionString: cs,
      intervalSeconds: 1,
    });
    expect(parseDeviceSimArgs(['--connection-string', cs, '--interval', '5'], {})).toMatchObject({
      intervalSeconds: 5,
    });
  });

  it('refuses bad values with a message that says what to do', () => {
    expect(() => parseDeviceSimArgs([], {})).toThrow(/--connection-string/);
    expect(() => parseDeviceSimArgs(['--connection-string', 'HostName=h'], {})).toThrow(
      /DeviceId, SharedAccessKey/,
    );
    expect(() => parseDeviceSimArgs(['--connection-string', cs, '--interval', '0'], {})).toThrow(
      /--interval/,
    );
    expect(() => parseDeviceSimArgs(['--devices', '3'], {})).toThrow(/IOTHUB_SERVICE_CONNECTION_STRING/);
    expect(() => parseDeviceSimArgs(['--devices', '0'], { IOTHUB_SERVICE_CONNECTION_STRING: 'x' })).toThrow(
      /--devices/,
    );
  });

  it('selects the transport, MQTT by default, and rejects unparseable messages only over AMQP', () => {
    expect(parseDeviceSimArgs(['--connection-string', cs], {})).toMatchObject({
      transport: 'mqtt',
      rejectUnparseable: false,
    });
    expect(
      parseDeviceSimArgs(['--connection-string', cs, '--transport', 'amqp', '--reject-unparseable'], {}),
    ).toMatchObject({ transport: 'amqp', rejectUnparseable: true });
    expect(
      parseDeviceSimArgs(['--devices', '2', '--transport', 'amqp', '--gateway', 'localhost:15671'], {
        IOTHUB_SERVICE_CONNECTION_STRING: 'x',
      }),
    ).toMatchObject({ devices: 2, transport: 'amqp', gateway: 'localhost:15671' });
    expect(() => parseDeviceSimArgs(['--connection-string', cs, '--transport', 'http'], {})).toThrow(
      /--transport must be mqtt or amqp/,
    );
    expect(() => parseDeviceSimArgs(['--connection-string', cs, '--reject-unparseable'], {})).toThrow(
      /--reject-unparseable needs --transport amqp/,
    );
  });

  it('documents the transport and C2D flags in --help', () => {
    expect(DEVICE_SIM_USAGE).toMatch(/--transport <mqtt\|amqp>/);
    expect(DEVICE_SIM_USAGE).toMatch(/--reject-unparseable/);
  });

  it('names simulated devices so that they sort', () => {
    expect(simulatedDeviceIds(3)).toEqual(['sim-device-01', 'sim-device-02', 'sim-device-03']);
    expect(simulatedDeviceIds(100)[99]).toBe('sim-device-100');
    expect(simulatedDeviceIds(100)[0]).toBe('sim-device-001');
  });
});

describe('device.env (written by azd up)', () => {
  it('supplies settings the environment lacks, and the environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'device-env-'));
    const file = join(dir, 'device.env');
    writeFileSync(
      file,
      '# written by postprovision\nIOTHUB_DEVICE_CONNECTION_STRING="HostName=h;DeviceId=d;SharedAccessKey=k="\nOTHER=1\n',
    );
    try {
      expect(withDeviceEnvFile({ IOTHUB_DEVICE_ENV_FILE: file })).toMatchObject({
        IOTHUB_DEVICE_CONNECTION_STRING: 'HostName=h;DeviceId=d;SharedAccessKey=k=',
        OTHER: '1',
      });
      expect(withDeviceEnvFile({ IOTHUB_DEVICE_ENV_FILE: file, OTHER: 'env' }).OTHER).toBe('env');
      expect(withDeviceEnvFile({ IOTHUB_DEVICE_ENV_FILE: join(dir, 'missing.env') })).toEqual({
        IOTHUB_DEVICE_ENV_FILE: join(dir, 'missing.env'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
