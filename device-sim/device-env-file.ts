import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Where `azd up`'s postprovision hook writes the simulated device's connection string. */
export const DEFAULT_DEVICE_ENV_FILE = 'device.env';

/**
 * Reads `KEY=value` lines (comments with #) from the device env file, if there is one, for the settings the
 * environment does not already give: the environment always wins.
 */
export function withDeviceEnvFile(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = resolve(env.IOTHUB_DEVICE_ENV_FILE ?? DEFAULT_DEVICE_ENV_FILE);
  if (!existsSync(path)) return env;
  const fromFile: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith('#')) continue;
    const [, key = '', raw = ''] = match;
    fromFile[key] = raw.replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  }
  return { ...fromFile, ...env };
}
