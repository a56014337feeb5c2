/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment -- azure-iothub declares its own copy of
   azure-iot-common's Message class; at run time it takes any Message (it checks the constructor's name). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Message } from 'azure-iot-common';
import { Client as DeviceClient } from 'azure-iot-device';
import { Amqp } from 'azure-iot-device-amqp';
import { Mqtt } from 'azure-iot-device-mqtt';
import type { Client } from 'azure-iothub';
import { type DeviceTransport, type RunningEmulator, startEmulator } from 'iothub-emulator';
import { createIotHubClient } from '../src/lib/iothub-client';
import { readIotHubSettings } from '../src/lib/settings';
import { formatMs, summarize } from './stats';

/**
 * Cloud-to-device throughput (azure-iothub `Client.send` over AMQP -> emulator -> a device completing each message)
 * for a device on MQTT and one on AMQP, and the sequential direct-method round trip to each, in one run.
 * Usage: node dist/bench/cloud-to-device.js [messages=2000] [calls=1000]
 */
async function main(): Promise<void> {
  const messages = Number(process.argv[2] ?? '2000');
  const calls = Number(process.argv[3] ?? '1000');
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench-c2d'),
    reset: true,
    devices: ['c2d-mqtt', 'c2d-amqp'],
  });
  const service = createIotHubClient(
    readIotHubSettings({
      IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
      IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
    }),
  );
  await service.open();
  try {
    const results: Record<DeviceTransport, { perSecond: number; methods: ReturnType<typeof summarize> }> = {
      mqtt: await measureTransport(emulator, service, 'mqtt', messages, calls),
      amqp: await measureTransport(emulator, service, 'amqp', messages, calls),
    };
    console.log(`Cloud-to-device: ${messages} messages, Client.send over AMQP, the device completing each:`);
    for (const transport of ['mqtt', 'amqp'] as const) {
      console.log(
        `  to a device on ${transport.toUpperCase()}: ${results[transport].perSecond.toFixed(0)} messages/s`,
      );
    }
    console.log(`Sequential direct methods, service SDK -> emulator -> device, ${calls} calls each:`);
    for (const transport of ['mqtt', 'amqp'] as const) {
      const { median, p99 } = results[transport].methods;
      console.log(`  device on ${transport.toUpperCase()}: median ${formatMs(median)}, p99 ${formatMs(p99)}`);
    }
    console.log(
      `  ratio AMQP/MQTT median round trip: ${(results.amqp.methods.median / results.mqtt.methods.median).toFixed(2)}x`,
    );
  } finally {
    await service.close();
    await emulator.stop();
  }
}

async function measureTransport(
  emulator: RunningEmulator,
  service: Client,
  transport: DeviceTransport,
  messages: number,
  calls: number,
): Promise<{ perSecond: number; methods: ReturnType<typeof summarize> }> {
  const deviceId = `c2d-${transport}`;
  const device = DeviceClient.fromConnectionString(
    emulator.deviceConnectionString(deviceId, transport),
    transport === 'amqp' ? Amqp : Mqtt,
  );
  await device.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
  await device.open();
  device.onDeviceMethod('ping', (_request, response) => {
    void response.send(200, 'pong');
  });
  let completed = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  const progress: (() => void)[] = [];
  device.on('message', (message: Message) => {
    void device.complete(message).then(() => {
      completed++;
      for (const wake of progress.splice(0)) wake();
      if (completed === messages) allDone();
    });
  });
  // The window stays well under IoT Hub's 50 pending messages per device: a device's complete resolves when its
  // settlement is sent, before the hub has read it.
  const window = 25;
  const started = performance.now();
  const sends: Promise<unknown>[] = [];
  for (let sent = 0; sent < messages; sent++) {
    while (sent - completed >= window) await new Promise<void>((resolve) => progress.push(resolve));
    sends.push(service.send(deviceId, new Message(JSON.stringify({ n: sent }))));
  }
  await Promise.all(sends);
  await finished;
  const perSecond = messages / ((performance.now() - started) / 1000);

  const times: number[] = [];
  for (let i = 0; i < calls + 100; i++) {
    const callStarted = performance.now();
    await service.invokeDeviceMethod(deviceId, {
      methodName: 'ping',
      payload: null,
      connectTimeoutInSeconds: 10,
    });
    if (i >= 100) times.push(performance.now() - callStarted);
  }
  await device.close();
  return { perSecond, methods: summarize(times) };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
