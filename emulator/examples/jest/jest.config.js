// One emulator for the whole Jest run: started before the workers, stopped after them.
//   npm i -D iothub-emulator jest azure-iot-device azure-iot-device-mqtt
//   IOTHUB_EMULATOR_DEVICES=thermostat-1 npx jest
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  globalSetup: 'iothub-emulator/jest-global-setup',
  globalTeardown: 'iothub-emulator/jest-global-teardown',
};
