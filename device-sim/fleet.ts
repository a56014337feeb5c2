import type { Registry } from 'azure-iothub';

/** sim-device-01, sim-device-02, ... (at least two digits, so they sort). */
export function simulatedDeviceIds(count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `sim-device-${String(i + 1).padStart(width, '0')}`);
}

/**
 * Creates the devices that do not exist yet (reusing the others with their keys) and returns device connection
 * strings; `gateway` (host:port) is added for the emulator. Registry calls run a few at a time.
 */
export async function ensureDeviceConnectionStrings(
  registry: Registry,
  hostName: string,
  deviceIds: readonly string[],
  gateway: string | undefined,
): Promise<string[]> {
  const results: string[] = new Array<string>(deviceIds.length);
  let next = 0;
  const worker = async () => {
    while (next < deviceIds.length) {
      const index = next++;
      const deviceId = deviceIds[index] ?? '';
      const key = await primaryKeyOf(registry, deviceId);
      results[index] =
        `HostName=${hostName};DeviceId=${deviceId};SharedAccessKey=${key}${gateway ? `;GatewayHostName=${gateway}` : ''}`;
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, deviceIds.length) }, worker));
  return results;
}

async function primaryKeyOf(registry: Registry, deviceId: string): Promise<string> {
  let device;
  try {
    device = (await registry.get(deviceId)).responseBody;
  } catch (error) {
    if ((error as Error).name !== 'DeviceNotFoundError') throw error;
    device = (await registry.create({ deviceId })).responseBody;
  }
  const key = device.authentication?.symmetricKey?.primaryKey;
  if (!key) throw new Error(`Device ${deviceId} has no symmetric key (it may use X.509).`);
  return key;
}
