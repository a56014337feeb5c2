import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmulator } from 'iothub-emulator';
import { createIotHubRegistry } from '../src/lib/iothub-client';
import { readIotHubSettings } from '../src/lib/settings';

/**
 * Resident memory of the emulator with N simulated devices connected and sending telemetry every second.
 * The devices run in another process (the device simulator's --devices mode), so only the emulator is measured.
 * Usage: node dist/bench/memory.js [devices=1000] [seconds of telemetry=20]
 */
async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? '1000');
  const soakSeconds = Number(process.argv[3] ?? '20');
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
    `  resident memory: idle ${idle.rssMb.toFixed(0)} MB; with the devices after ${soakSeconds} s of telemetry ${loaded.rssMb.toFixed(0)} MB (peak ${loaded.peakMb.toFixed(0)} MB); target < 500 MB`,
  );
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
