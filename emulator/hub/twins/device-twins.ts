import { newTwin, type DeviceTwin, type TwinSection } from './device-twin';
import type { Metadata } from './twin-metadata';
import { cloneDocument, type TwinObject } from './twin-properties';

/**
 * The twins of the registered devices, in memory; the hub persists them with the registry (`stored()` into
 * state.json, `restore` when it opens). A device's twin exists from its creation: one nothing wrote to yet is not
 * kept, only described (`get` answers a new twin).
 */
export class DeviceTwins {
  private readonly twins = new Map<string, DeviceTwin>();

  /**
   * Twins from a state file, for the devices `exists` still knows. Throws an Error naming what is malformed; the
   * caller says which file.
   */
  static restore(saved: unknown, exists: (deviceId: string) => boolean): DeviceTwins {
    const twins = new DeviceTwins();
    if (saved === undefined) return twins;
    if (!Array.isArray(saved)) throw new Error('"twins" is not an array');
    for (const [index, entry] of (saved as unknown[]).entries()) {
      const twin = restoredTwin(entry, `twins[${index}]`);
      if (exists(twin.deviceId)) twins.twins.set(twin.deviceId, twin);
    }
    return twins;
  }

  get(deviceId: string): DeviceTwin {
    return this.twins.get(deviceId) ?? newTwin(deviceId);
  }

  set(twin: DeviceTwin): void {
    this.twins.set(twin.deviceId, twin);
  }

  /** Forgets a device's twin (the device was deleted: a device created again under its id starts afresh). */
  forget(deviceId: string): void {
    this.twins.delete(deviceId);
  }

  /** What the hub persists: every twin something wrote to. */
  stored(): DeviceTwin[] {
    return [...this.twins.values()];
  }
}

function restoredTwin(entry: unknown, where: string): DeviceTwin {
  const record = asRecord(entry, where);
  const deviceId = record.deviceId;
  if (typeof deviceId !== 'string') throw new Error(`${where}.deviceId is not a string`);
  return {
    deviceId,
    version: version(record.version, `${where}.version`),
    tags: document(record.tags, `${where}.tags`),
    desired: section(record.desired, `${where}.desired`),
    reported: section(record.reported, `${where}.reported`),
  };
}

function section(value: unknown, where: string): TwinSection {
  const record = asRecord(value, where);
  return {
    properties: document(record.properties, `${where}.properties`),
    version: version(record.version, `${where}.version`),
    metadata: document(record.metadata, `${where}.metadata`) as unknown as Metadata,
  };
}

/** A copy without prototypes: JSON.parse made `__proto__` an own property; assigning it elsewhere would not. */
function document(value: unknown, where: string): TwinObject {
  return cloneDocument(asRecord(value, where) as TwinObject);
}

function version(value: unknown, where: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${where} is not a positive integer`);
  }
  return value;
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where} is not an object`);
  }
  return value as Record<string, unknown>;
}
