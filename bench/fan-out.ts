import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulatedDeviceIds } from '../device-sim/fleet';
import { SimulatedDevice } from '../device-sim/simulated-device';
import { startEmulator } from 'iothub-emulator';
import { emulatorHostSettings } from '../local/emulator-settings';
import { startLocalHost } from '../local/host/host-process';

const FINISHED = new Set(['completed', 'failed', 'cancelled']);

/**
 * Wall time of one fan-out over N devices (default 1,000) through the function: directly (one POST answering every
 * device's result) and as an IoT Hub job (POST, then polling the status URL until the job is finished). The
 * devices are SimulatedDevices in this process; the emulator and the functions host run in their own.
 * Usage: node dist/bench/fan-out.js [devices=1000]
 */
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '1000');
  const dataDir = mkdtempSync(join(tmpdir(), 'fan-out-bench-'));
  const ids = simulatedDeviceIds(count);
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir,
    devices: ids,
  });
  const ca = readFileSync(emulator.info.caPath, 'utf8');
  const devices = ids.map(
    (deviceId) =>
      new SimulatedDevice({
        connectionString: emulator.deviceConnectionString(deviceId),
        ca,
        intervalSeconds: 3600,
        log: () => undefined,
        logTelemetry: false,
      }),
  );
  for (let i = 0; i < devices.length; i += 50)
    await Promise.all(devices.slice(i, i + 50).map((d) => d.start()));
  const host = await startLocalHost({
    ...emulatorHostSettings(emulator.info),
    FANOUT_MAX_DIRECT_DEVICES: String(count),
    FANOUT_MAX_DEVICE_IDS: String(count),
  });
  const post = async (body: unknown) => {
    const response = await fetch(`${host.baseUrl}/api/methods/SetTelemetryInterval`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  try {
    let started = performance.now();
    const direct = await post({ deviceIds: ids, payload: 3600, mode: 'direct' });
    const directMs = performance.now() - started;
    console.log(
      `direct: ${count} devices in ${Math.round(directMs)} ms (HTTP ${direct.status}, answered ${String(direct.body.answeredCount)})`,
    );
    started = performance.now();
    const scheduled = await post({ query: "deviceId >= 'sim-device-'", payload: 3600, mode: 'job' });
    let job: Record<string, unknown> = {};
    for (;;) {
      job = (await (await fetch(scheduled.body.statusUrl as string)).json()) as Record<string, unknown>;
      if (FINISHED.has(job.status as string)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const jobMs = performance.now() - started;
    console.log(
      `job: ${count} devices in ${Math.round(jobMs)} ms (${String(job.status)}, ${JSON.stringify(job.deviceJobStatistics)})`,
    );
  } finally {
    await host.stop();
    await Promise.all(devices.map((device) => device.stop()));
    await emulator.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
