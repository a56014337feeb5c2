import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator } from 'iothub-emulator';
import { createIotHubRegistry } from '../src/lib/iothub-client';
import { readIotHubSettings } from '../src/lib/settings';
import { figure, knob, recordFigures } from './report';

/**
 * Resident memory of the emulator with N simulated devices connected and sending telemetry every second.
 * The devices run in another process (the device simulator's --devices mode), so only the emulator is measured.
 * Usage: node dist/bench/memory.js [devices=1000] [seconds of telemetry=20], or BENCH_MEMORY_DEVICES and
 * BENCH_MEMORY_SECONDS (which win).
 */
async function main(): Promise<void> {
  const count = knob('BENCH_MEMORY_DEVICES', 1000, process.argv[2]);
  const soakSeconds = knob('BENCH_MEMORY_SECONDS', 20, process.argv[3]);
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench-memory'),
    reset: true,
  });
  const idle = memoryOf(emulator.pid);
  const simulator = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'device-sim', 'cli.js'),
      '--devices',
      String(count),
      '--gateway',
      `localhost:${emulator.info.mqttPort}`,
      '--ca',
      emulator.info.caPath,
      '--quiet',
    ],
    {
      env: {
        ...process.env,
        IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
        IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    let output = '';
    simulator.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('simulated device(s) running')) resolve();
    });
    simulator.once('exit', (code) => {
      reject(new Error(`device simulator exited with ${code ?? '?'}:\n${output}`));
    });
  });
  const connectSeconds = (performance.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, soakSeconds * 1000));

  const registry = createIotHubRegistry(
    readIotHubSettings({
      IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
      IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
    }),
  );
  const connected = (await registry.list()).responseBody.filter(
    (d) => String(d.connectionState).toLowerCase() === 'connected',
  ).length;
  const loaded = memoryOf(emulator.pid);
  simulator.kill('SIGINT');
  await new Promise((resolve) => simulator.once('exit', resolve));
  await emulator.stop();

  console.log(`Emulator memory with ${count} simulated devices (MQTT/TLS, telemetry every 1 s):`);
  console.log(
    `  devices connected: ${connected}/${count}, all up after ${connectSeconds.toFixed(1)} s (creation included)`,
  );
  console.log(
    `  resident memory: idle ${idle.rssMb.toFixed(0)} MB; with the devices after ${soakSeconds} s of telemetry ${loaded.rssMb.toFixed(0)} MB (peak ${loaded.peakMb.toFixed(0)} MB)`,
  );
  recordFigures([
    figure({
      target: 0,
      name: `emulator resident memory, ${count} devices, telemetry every 1 s for ${soakSeconds} s`,
      unit: 'MiB',
      measured: loaded.rssMb,
      baseline: idle.rssMb,
      baselineName: 'same emulator idle',
      note: `${connected}/${count} connected after ${connectSeconds.toFixed(1)} s; peak ${loaded.peakMb.toFixed(0)} MiB`,
    }),
  ]);
}

function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 'NaN');
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
