import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTelemetryInterval, type IntervalParse } from './interval';
import type { DeviceTransport } from './simulated-device';

/** What the simulator reports it runs with: its twin is the dashboard's view of the device. */
export interface ReportedState {
  readonly telemetryInterval: number;
  readonly firmware: { readonly version: string };
  readonly transport: DeviceTransport;
}

export function reportedState(
  telemetryInterval: number,
  firmwareVersion: string,
  transport: DeviceTransport,
): ReportedState {
  return { telemetryInterval, firmware: { version: firmwareVersion }, transport };
}

/** A desired-properties document or patch, as the device SDK hands it over. */
export type DesiredInterval =
  | { readonly kind: 'absent'; readonly version: number | undefined }
  | { readonly kind: 'stale' }
  | ({ readonly kind: 'interval'; readonly version: number | undefined } & IntervalParse);

/**
 * Reads `telemetryInterval` from desired properties, with the method's validation. A document whose `$version`
 * is not newer than one already applied is stale: the SDK hands the whole desired document again on reconnect,
 * and re-applying it would undo a SetTelemetryInterval call made since.
 */
export function readDesiredInterval(desired: unknown, lastAppliedVersion: number): DesiredInterval {
  if (typeof desired !== 'object' || desired === null) return { kind: 'absent', version: undefined };
  const { telemetryInterval, $version } = desired as { telemetryInterval?: unknown; $version?: unknown };
  const version = typeof $version === 'number' ? $version : undefined;
  if (version !== undefined && version <= lastAppliedVersion) return { kind: 'stale' };
  // null is how a deleted desired property arrives; the device keeps its interval.
  if (telemetryInterval === undefined || telemetryInterval === null) return { kind: 'absent', version };
  return { kind: 'interval', version, ...parseTelemetryInterval(telemetryInterval) };
}

/** The version in this repository's package.json, reported as the simulated firmware's (from src or dist). */
export function packageVersion(): string {
  for (const path of [join(__dirname, '..', 'package.json'), join(__dirname, '..', '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'iot-direct-methods-functions' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // Not at this level; try the next.
    }
  }
  return '0.0.0';
}
