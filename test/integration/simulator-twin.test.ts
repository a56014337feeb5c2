import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Client, Registry } from 'azure-iothub';
import type { RunningEmulator } from 'iothub-emulator';
import { SimulatedDevice, type DeviceTransport } from '../../device-sim/simulated-device';
import type { ReportedState } from '../../device-sim/twin-state';
import { invokeMethod, registryClient, serviceClient, startTestEmulator } from '../helpers/emulator';

type Emulator = RunningEmulator & { removeData: () => void };

const VERSION = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

/** Resolves with the first report whose interval is `seconds` (reports of other intervals are skipped). */
function reported(device: SimulatedDevice, seconds: number): Promise<ReportedState> {
  return new Promise((resolve) => {
    const onReport = (state: ReportedState) => {
      if (state.telemetryInterval !== seconds) return;
      device.off('reported', onReport);
      resolve(state);
    };
    device.on('reported', onReport);
  });
}

describe('the simulator follows desired telemetryInterval and reports its state (real SDKs, emulator)', () => {
  let emulator: Emulator;
  let registry: Registry;
  let service: Client;
  const running: SimulatedDevice[] = [];

  const simulate = (deviceId: string, intervalSeconds: number, transport: DeviceTransport = 'mqtt') => {
    const device = new SimulatedDevice({
      connectionString: emulator.deviceConnectionString(deviceId, transport),
      transport,
      ca: readFileSync(emulator.info.caPath, 'utf8'),
      intervalSeconds,
      log: () => undefined,
      logTelemetry: false,
    });
    running.push(device);
    return device;
  };
  const reportedOnHub = async (deviceId: string) =>
    (await registry.getTwin(deviceId)).responseBody.properties.reported as Record<string, unknown>;
  const setDesired = (deviceId: string, telemetryInterval: unknown) =>
    registry.updateTwin(deviceId, { properties: { desired: { telemetryInterval } } }, '*');

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: ['sim-twin', 'sim-twin-amqp'] });
    registry = registryClient(emulator);
    service = serviceClient(emulator);
  });

  afterAll(async () => {
    await Promise.all(running.map((device) => device.stop()));
    await emulator.stop();
    emulator.removeData();
  });

  it('reports what it runs with, follows desired changes and method calls alike, and catches up after reconnecting', async () => {
    const device = simulate('sim-twin', 5);
    const first = reported(device, 5);
    await device.start();
    expect(await first).toEqual({ telemetryInterval: 5, firmware: { version: VERSION }, transport: 'mqtt' });
    expect(await reportedOnHub('sim-twin')).toMatchObject({
      telemetryInterval: 5,
      firmware: { version: VERSION },
      transport: 'mqtt',
    });

    // Registry.updateTwin -> the device runs at the new interval and reports it.
    const toOne = reported(device, 1);
    await setDesired('sim-twin', 1);
    await toOne;
    expect(device.intervalSeconds).toBe(1);
    expect(await reportedOnHub('sim-twin')).toMatchObject({ telemetryInterval: 1 });
    const [, firstSequence] = (await once(device, 'telemetry')) as [unknown, number];
    const from = performance.now();
    const [, secondSequence] = (await once(device, 'telemetry')) as [unknown, number];
    expect(secondSequence).toBe(firstSequence + 1);
    // One second apart, not five (the timer's own slack allowed for on a loaded machine).
    expect(performance.now() - from).toBeGreaterThanOrEqual(900);
    expect(performance.now() - from).toBeLessThan(4000);

    // An invalid desired interval is refused as the method refuses it: nothing changes.
    const refused = once(device, 'desired-refused');
    await setDesired('sim-twin', 'often');
    expect(await refused).toEqual(['often', expect.stringContaining('Invalid interval "often"') as unknown]);
    expect(device.intervalSeconds).toBe(1);

    // A method call changes the interval and reports it too.
    const toSeven = reported(device, 7);
    expect(
      await invokeMethod(service, 'sim-twin', { methodName: 'SetTelemetryInterval', payload: 7 }),
    ).toEqual({
      status: 200,
      payload: { interval: 7 },
    });
    await toSeven;
    expect(await reportedOnHub('sim-twin')).toMatchObject({ telemetryInterval: 7 });

    // Set while the device is away: applied and reported once it is back.
    await device.stop();
    await setDesired('sim-twin', 3);
    const again = simulate('sim-twin', 5);
    const caughtUp = reported(again, 3);
    await again.start();
    await caughtUp;
    expect(again.intervalSeconds).toBe(3);
    expect(await reportedOnHub('sim-twin')).toMatchObject({ telemetryInterval: 3 });
  }, 60_000);

  it('does the same over AMQP and reports the transport', async () => {
    const device = simulate('sim-twin-amqp', 4, 'amqp');
    const first = reported(device, 4);
    await device.start();
    expect(await first).toMatchObject({ transport: 'amqp' });
    const toTwo = reported(device, 2);
    await setDesired('sim-twin-amqp', 2);
    await toTwo;
    expect(await reportedOnHub('sim-twin-amqp')).toMatchObject({ telemetryInterval: 2, transport: 'amqp' });
  }, 60_000);
});
