import type { Registry } from 'azure-iothub';
import { createIotHubRegistry } from './iothub-client';
import { readIotHubSettings } from './settings';

let sharedRegistry: Registry | undefined;

/** One registry client per process for the twin functions, created on first use and reused (keep-alive). */
export function getTwinRegistry(): Registry {
  sharedRegistry ??= createIotHubRegistry();
  return sharedRegistry;
}

let configuredHostName: string | undefined;

/** The hub named in error messages; settings are read once, not on every failed call. */
export function hubHostName(): string {
  if (configuredHostName === undefined) {
    try {
      configuredHostName = readIotHubSettings().hostName;
    } catch {
      configuredHostName = '(not configured)';
    }
  }
  return configuredHostName;
}
