import { StateFileError } from '../../../devkit/json-file';
import { isValidKey } from '../keys';
import { isValidModuleId } from '../identifiers';
import type { DeviceRegistry } from '../registry';
import { ModuleRegistry, type ModuleRecord } from './module-registry';

/**
 * The module identities of state.json, for the devices the registry holds (a module whose device is gone is
 * dropped, as IoT Hub deletes it with the device). A file written before modules existed has none. A malformed
 * entry stops the start, naming it: starting without it would silently lose an identity and its keys.
 */
export function restoreModules(saved: unknown, registry: DeviceRegistry, statePath: string): ModuleRegistry {
  if (saved === undefined) return new ModuleRegistry();
  try {
    if (!Array.isArray(saved)) throw new Error('"modules" is not an array');
    const records = (saved as unknown[])
      .map((entry, index) => moduleRecord(entry, `modules[${index}]`))
      .filter((record) => registry.find(record.deviceId) !== undefined);
    return new ModuleRegistry(records);
  } catch (error) {
    throw new StateFileError(
      statePath,
      `${statePath} holds a module identity the emulator cannot read (${(error as Error).message}). Restore the ` +
        'file from a backup, or remove its "modules" entry to start without modules (devices and keys stay).',
    );
  }
}

function moduleRecord(entry: unknown, where: string): ModuleRecord {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new Error(`${where} is not an object`);
  }
  const record = entry as Record<string, unknown>;
  const text = (name: string): string => {
    const value = record[name];
    if (typeof value !== 'string') throw new Error(`${where}.${name} is not a string`);
    return value;
  };
  const moduleId = text('moduleId');
  if (!isValidModuleId(moduleId)) throw new Error(`${where}.moduleId is not a valid module id`);
  const primaryKey = text('primaryKey');
  const secondaryKey = text('secondaryKey');
  if (!isValidKey(primaryKey) || !isValidKey(secondaryKey)) throw new Error(`${where} has a malformed key`);
  const version = record.version;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new Error(`${where}.version is not a positive integer`);
  }
  return {
    deviceId: text('deviceId'),
    moduleId,
    generationId: text('generationId'),
    version,
    primaryKey,
    secondaryKey,
    managedBy: typeof record.managedBy === 'string' ? record.managedBy : '',
  };
}
