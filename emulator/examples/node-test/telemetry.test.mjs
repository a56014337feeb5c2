// A plain `node --test` suite against the emulator: start it on free ports, connect a device with the unmodified
// device SDK, read what it sends on the Event Hub-compatible endpoint with @azure/event-hubs, stop.
//   npm i -D iothub-emulator azure-iot-device azure-iot-device-mqtt @azure/event-hubs
//   node --test
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EventHubConsumerClient, earliestEventPosition } from '@azure/event-hubs';
import deviceSdk from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { startEmulator } from 'iothub-emulator';

// The device SDK is CommonJS without named exports Node can see from an ES module.
const { Client, Message } = deviceSdk;
const { Mqtt } = deviceMqtt;

let emulator;
let dataDir;

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'iothub-emulator-example-'));
  emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir,
    devices: ['thermostat-1'],
  });
});

after(async () => {
  await emulator?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test('a device message reaches the Event Hub-compatible endpoint', async () => {
  const device = Client.fromConnectionString(emulator.deviceConnectionString('thermostat-1'), Mqtt);
  await device.setOptions({ ca: readFileSync(emulator.info.caPath, 'utf8') });
  await device.open();
  const message = new Message(JSON.stringify({ temperature: 21.5 }));
  message.properties.add('alert', 'false');
  await device.sendEvent(message);
  await device.close();

  const consumer = new EventHubConsumerClient('$Default', emulator.info.eventHubConnectionString);
  try {
    const received = await new Promise((resolve, reject) => {
      const subscription = consumer.subscribe(
        {
          processEvents: async (events) => {
            if (events.length > 0) {
              await subscription.close();
              resolve(events[0]);
            }
          },
          processError: async (error) => reject(error),
        },
        { startPosition: earliestEventPosition },
      );
    });
    // @azure/event-hubs hands a JSON body over parsed, as it does with Azure IoT Hub's endpoint.
    assert.deepEqual(received.body, { temperature: 21.5 });
    assert.equal(received.properties.alert, 'false');
    assert.equal(received.systemProperties['iothub-connection-device-id'], 'thermostat-1');
  } finally {
    await consumer.close();
  }
});
