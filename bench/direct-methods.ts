import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'node:http';
import { SimulatedDevice } from '../device-sim/simulated-device';
import { startEmulator } from 'iothub-emulator';
import { FunctionsHost } from '../local/host/functions-host';
import { createIotHubClient } from '../src/lib/iothub-client';
import { readIotHubSettings } from '../src/lib/settings';
import { bareMqttRoundTrips } from './bare-mqtt';
import { figure, knob, recordFigures } from './report';
import { formatMs, summarize } from './stats';

/** Issue 13, target 2: the function's median at most this many times the bare MQTT round trip, p99 below 20 ms. */
const MAX_RATIO = 3;
const MAX_P99_MS = 20;

/**
 * Round trip of sequential direct-method calls through the function (HTTP -> local host -> emulator -> device ->
 * back), next to the same call from the service SDK straight to the emulator, and a bare MQTT request/response
 * through aedes, all in one run. The host runs in this process with the device, as in `npm start`.
 * Usage: node dist/bench/direct-methods.js [calls=1000], or BENCH_CALLS (which wins).
 */
async function main(): Promise<void> {
  const calls = knob('BENCH_CALLS', 1000, process.argv[2]);
  const warmup = 100;
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench'),
    devices: ['bench-device'],
  });
  const settings = {
    IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
    IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
  };
  // The topology of `npm start`: the functions host and the simulated device share one process, the emulator
  // runs in another.
  const host = await FunctionsHost.start({
    projectDir: join(__dirname, '..', '..'),
    port: 0,
    settingsOverrides: settings,
    log: () => undefined,
  });
  const device = new SimulatedDevice({
    connectionString: emulator.deviceConnectionString('bench-device'),
    ca: readFileSync(emulator.info.caPath, 'utf8'),
    intervalSeconds: 3600,
    log: () => undefined,
  });
  await device.start();
  const service = createIotHubClient(readIotHubSettings(settings));
  await service.invokeDeviceMethod('bench-device', {
    methodName: 'SetTelemetryInterval',
    payload: 3600,
    connectTimeoutInSeconds: 30,
  });

  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = JSON.stringify({ payload: 3600 });
  const viaFunction = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: host.port,
          method: 'POST',
          path: '/api/devices/bench-device/methods/SetTelemetryInterval',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) resolve();
            else reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const viaSdk = async () => {
    await service.invokeDeviceMethod('bench-device', { methodName: 'SetTelemetryInterval', payload: 3600 });
  };
  const measure = async (call: () => Promise<void>) => {
    const times: number[] = [];
    for (let i = 0; i < warmup + calls; i++) {
      const started = performance.now();
      await call();
      if (i >= warmup) times.push(performance.now() - started);
    }
    return times;
  };

  const functionTimes = await measure(viaFunction);
  const sdkTimes = await measure(viaSdk);
  const tlsDir = join(emulator.info.dataDir, 'certs');
  const bareTimes = await bareMqttRoundTrips(
    {
      cert: readFileSync(join(tlsDir, 'server.pem'), 'utf8'),
      key: readFileSync(join(tlsDir, 'server-key.pem'), 'utf8'),
      ca: readFileSync(emulator.info.caPath, 'utf8'),
    },
    calls,
    warmup,
  );

  await device.stop();
  agent.destroy();
  await host.stop();
  await emulator.stop();

  const fn = summarize(functionTimes);
  const sdk = summarize(sdkTimes);
  const bare = summarize(bareTimes);
  console.log(`Sequential direct-method round trips, ${calls} calls each after ${warmup} warm-up calls:`);
  console.log(
    `  through the function (HTTP -> host -> emulator -> device): median ${formatMs(fn.median)}, p99 ${formatMs(fn.p99)}, max ${formatMs(fn.max)}`,
  );
  console.log(
    `  service SDK -> emulator -> device:                         median ${formatMs(sdk.median)}, p99 ${formatMs(sdk.p99)}`,
  );
  console.log(
    `  bare MQTT request/response through aedes (baseline):       median ${formatMs(bare.median)}, p99 ${formatMs(bare.p99)}`,
  );
  const note = `${calls} sequential calls after ${warmup} warm-up calls, one device`;
  recordFigures([
    figure({
      target: 2,
      name: 'sequential round trip via function, median',
      unit: 'ms',
      measured: fn.median,
      goal: `<= ${MAX_RATIO}x bare`,
      baseline: bare.median,
      baselineName: 'bare MQTT req/res through aedes',
      met: fn.median <= MAX_RATIO * bare.median,
      note,
    }),
    figure({
      target: 2,
      name: 'sequential round trip via function, p99',
      unit: 'ms',
      measured: fn.p99,
      goal: `< ${MAX_P99_MS} ms`,
      baseline: bare.p99,
      baselineName: 'bare p99',
      met: fn.p99 < MAX_P99_MS,
      note,
    }),
    figure({
      target: 0,
      name: 'sequential round trip, service SDK -> emulator, median',
      unit: 'ms',
      measured: sdk.median,
      baseline: bare.median,
      baselineName: 'bare',
      note,
    }),
  ]);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
