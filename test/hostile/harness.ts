import { readFileSync } from 'node:fs';
import type { Client as DeviceClient } from 'azure-iot-device';
import { createSasToken, type RunningEmulator, type StartEmulatorOptions } from 'iothub-emulator';
import { emulatorHostSettings } from '../../local/emulator-settings';
import { startLocalHost, type LocalHostProcess } from '../../local/host/host-process';
import { connectDevice, echo, policyKey, startTestEmulator } from '../helpers/emulator';
import { deviceKey, inAnHour } from '../helpers/raw-clients';

/** The device every group calls at the end, through the function, to show the system still works. */
export const CANARY = 'hostile-canary';

/**
 * One hostile-input group's world: an emulator and a local Functions host in their own processes, and a canary
 * device on the official SDK that echoes direct methods. Groups end with `expectStillServing`, which checks that
 * both processes are up, a normal direct method still works end to end, and no key or signature in play ever
 * reached either process's output.
 */
export interface HostileStack {
  readonly emulator: RunningEmulator & { removeData: () => void };
  readonly host: LocalHostProcess;
  /** Secrets the group's clients used (keys, token signatures): none may appear in any log. */
  readonly secrets: Set<string>;
  /** A signed token, remembered as a secret. */
  token(resource: string, key: string, keyName?: string, expiry?: number): string;
  policyToken(policy: string, resource?: string): string;
  deviceToken(deviceId: string): string;
  expectStillServing(): Promise<void>;
  stop(): Promise<void>;
}

export async function startHostileStack(
  deviceIds: readonly string[],
  options: StartEmulatorOptions = {},
): Promise<HostileStack> {
  const emulator = await startTestEmulator({ devices: [CANARY, ...deviceIds], ...options });
  const host = await startLocalHost(emulatorHostSettings(emulator.info));
  const canary: DeviceClient = await connectDevice(emulator, emulator.deviceConnectionString(CANARY), {
    echo,
  });
  const residentBefore = (await emulator.stats()).residentBytes;
  const secrets = new Set<string>();
  const state = JSON.parse(readFileSync(`${emulator.info.dataDir}/state.json`, 'utf8')) as {
    policies: { primaryKey: string; secondaryKey: string }[];
    devices: { primaryKey: string; secondaryKey: string }[];
  };
  for (const entry of [...state.policies, ...state.devices]) {
    secrets.add(entry.primaryKey);
    secrets.add(entry.secondaryKey);
  }
  const token = (resource: string, key: string, keyName?: string, expiry = inAnHour()) => {
    const text = createSasToken(resource, key, expiry, keyName);
    const signature = /sig=([^&]+)/.exec(text)?.[1];
    if (signature) {
      secrets.add(signature);
      secrets.add(decodeURIComponent(signature));
    }
    return text;
  };
  return {
    emulator,
    host,
    secrets,
    token,
    policyToken: (policy, resource = emulator.info.hostName) =>
      token(resource, policyKey(emulator, policy), policy),
    deviceToken: (deviceId) =>
      token(`${emulator.info.hostName}/devices/${deviceId}`, deviceKey(emulator, deviceId)),
    expectStillServing: async () => {
      expect(isRunning(emulator.pid)).toBe(true);
      const response = await fetch(`${host.baseUrl}/api/devices/${CANARY}/methods/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payload: { still: 'serving' } }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 200, payload: { still: 'serving' } });
      const output = emulator.logs() + host.logs();
      const leaked = [...secrets].filter((secret) => secret.length >= 16 && output.includes(secret));
      expect(leaked).toEqual([]);
    },
    stop: async () => {
      const residentAfter = (await emulator.stats()).residentBytes;
      // One line per group for the record (the closing note reports these); not an assertion: memory is noisy.
      process.stderr.write(
        `[hostile] ${expect.getState().testPath?.split('/').pop() ?? '?'}: emulator resident memory ` +
          `${mib(residentBefore)} MiB before, ${mib(residentAfter)} MiB after\n`,
      );
      await canary.close();
      await host.stop();
      await emulator.stop();
      emulator.removeData();
    },
  };
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A JSON text nested `depth` levels deep in arrays, around `inner`: what an attacker sends in a few KB. */
export function nestedArrays(depth: number, inner = '0'): string {
  return '['.repeat(depth) + inner + ']'.repeat(depth);
}

/** A JSON text of `depth` nested objects `{"a":{"a":...}}` around `inner`. */
export function nestedObjects(depth: number, inner = '1'): string {
  return '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}
