import { DEVICE_ID_RULE, isValidDeviceId } from '../../src/lib/iothub-rules';

export { DEVICE_ID_RULE, isValidDeviceId };

/**
 * Module ids follow the device-id rule (IoT Hub documents the same 128-character set for both); the emulator's rule
 * has no `/`, `+` or `#`, so that an id is always one MQTT topic level.
 */
export const MODULE_ID_RULE = DEVICE_ID_RULE;

export function isValidModuleId(id: string): boolean {
  return isValidDeviceId(id);
}

/** IoT Hub names: 3..50 characters, letters, digits and hyphens, not starting or ending with a hyphen. */
const HUB_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{1,48}[A-Za-z0-9]$/;

export function isValidHubName(name: string): boolean {
  return HUB_NAME.test(name);
}
