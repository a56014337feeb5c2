export { DEVICE_ID_RULE, isValidDeviceId } from '../../src/lib/iothub-rules';

/** IoT Hub names: 3..50 characters, letters, digits and hyphens, not starting or ending with a hyphen. */
const HUB_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{1,48}[A-Za-z0-9]$/;

export function isValidHubName(name: string): boolean {
  return HUB_NAME.test(name);
}
