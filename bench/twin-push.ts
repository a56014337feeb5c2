import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as DeviceClient, type Twin } from 'azure-iot-device';
import { Mqtt } from 'azure-iot-device-mqtt';
import { startEmulator } from 'iothub-emulator';
import { createIotHubRegistry } from '../src/lib/iothub-client';
import { readIotHubSettings } from '../src/lib/settings';
import { formatMs, summarize } from './stats';

/**
 * Twin update -> device push latency: a desired-property change sent with the service SDK (`Registry.updateTwin`,
 * HTTPS) until the device SDK (MQTT) emits it on `properties.desired`, one update at a time. Each change is written
 * (fsync) before it is pushed, so the figure includes the durable save. Also the REST round trip of the update
 * alone. Usage: node dist/bench/twin-push.js [updates=200]
 */
async function main(): Promise<void> {
  const updates = Number(process.argv[2] ?? '200');
  const warmup = 20;
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench-twins'),
    devices: ['bench-twin'],
  });
  const registry = createIotHubRegistry(
    readIotHubSettings({
      IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
      IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
    }),
  );
  const device = DeviceClient.fromConnectionString(emulator.deviceConnectionString('bench-twin'), Mqtt);
  await device.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
  await device.open();
  const twin = await device.getTwin();

  // The device's pushes, by the desired version they carry; each is timed when the SDK emits it (which may be before
  // the service's REST answer arrives: the hub pushes, then answers).
  const waiting = new Map<number, () => void>();
  twin.on('properties.desired', (patch: { $version?: unknown }) => {
    if (typeof patch.$version === 'number') waiting.get(patch.$version)?.();
  });
  await enableDesiredUpdates(twin);

  const pushTimes: number[] = [];
  const restTimes: number[] = [];
  let version = (twin.properties.desired as { $version: number }).$version;
  for (let i = 0; i < warmup + updates; i++) {
    version++;
    const pushed = new Promise<number>((resolve) => {
      waiting.set(version, () => {
        resolve(performance.now());
      });
    });
    const started = performance.now();
    await registry.updateTwin('bench-twin', { properties: { desired: { telemetryInterval: i } } }, '*');
    const answered = performance.now();
    const received = await pushed;
    waiting.delete(version);
    if (i >= warmup) {
      pushTimes.push(received - started);
      restTimes.push(answered - started);
    }
  }

  await device.close();
  await emulator.stop();

  const push = summarize(pushTimes);
  const rest = summarize(restTimes);
  console.log(`Sequential desired-property updates, ${updates} after ${warmup} warm-up updates:`);
  console.log(
    `  updateTwin sent -> device emits properties.desired: median ${formatMs(push.median)}, p99 ${formatMs(push.p99)}, max ${formatMs(push.max)}`,
  );
  console.log(
    `  updateTwin REST round trip (saved, pushed, answered): median ${formatMs(rest.median)}, p99 ${formatMs(rest.p99)}`,
  );
}

/** The SDK's subscription to desired properties, acknowledged (it starts on the first listener). */
function enableDesiredUpdates(twin: Twin): Promise<void> {
  return new Promise((resolve, reject) => {
    twin.enableTwinDesiredPropertiesUpdates((error) => {
      if (error) reject(error);
      else resolve();
    });
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
