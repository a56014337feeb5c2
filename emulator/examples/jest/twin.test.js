// The global setup gave the test the emulator's variables. The SDK trusts the emulator's CA through setOptions: a
// worker Jest starts after the setup also has NODE_EXTRA_CA_CERTS, but Jest runs a single test file in its own
// process, where that variable comes too late.
const { readFileSync } = require('node:fs');
const { Client } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { readEmulatorSettings } = require('iothub-emulator');

test('the device reads its twin and reports a property', async () => {
  const settings = readEmulatorSettings();
  expect(Object.keys(settings.deviceConnectionStrings)).toContain('thermostat-1');

  const device = Client.fromConnectionString(process.env.IOTHUB_DEVICE_CONNECTION_STRING, Mqtt);
  await device.setOptions({ ca: readFileSync(settings.caPath, 'utf8') });
  await device.open();
  try {
    const twin = await device.getTwin();
    expect(twin.properties.desired.$version).toBe(1);
    await new Promise((resolve, reject) =>
      twin.properties.reported.update({ firmware: '1.2.3' }, (error) => (error ? reject(error) : resolve())),
    );
    const again = await device.getTwin();
    expect(again.properties.reported.firmware).toBe('1.2.3');
  } finally {
    await device.close();
  }
});
