import { EventEmitter } from 'node:events';
import { hubErrors } from '../errors';
import { isValidModuleId, MODULE_ID_RULE } from '../identifiers';
import { generateKey } from '../keys';
import { checkRecordEtag, etagOf, generationId, isWildcard, readKeys } from '../registry';

/** What the emulator persists about a module identity (state.json, `modules`). */
export interface ModuleRecord {
  readonly deviceId: string;
  readonly moduleId: string;
  readonly generationId: string;
  readonly version: number;
  readonly primaryKey: string;
  readonly secondaryKey: string;
  /** Who manages the module (IoT Edge writes `IotEdge`); free text for other callers. */
  readonly managedBy: string;
}

/** A module as IoT Hub's REST API returns it (azure-iothub's `Module`). */
export interface ModuleDescription {
  moduleId: string;
  deviceId: string;
  generationId: string;
  etag: string;
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: {
    symmetricKey: { primaryKey: string; secondaryKey: string };
    x509Thumbprint: { primaryThumbprint: null; secondaryThumbprint: null };
    type: 'sas';
  };
  managedBy: string;
}

/** The subset of a REST module body the registry reads. */
export interface ModuleUpdate {
  deviceId?: unknown;
  moduleId?: unknown;
  authentication?: unknown;
  managedBy?: unknown;
}

interface ModuleRegistryEvents {
  /** The module can no longer connect (deleted, or its keys changed): drop its connection. */
  revoked: [deviceId: string, moduleId: string];
  changed: [];
}

const EPOCH = new Date(0).toISOString();
/** IoT Hub's limit on modules per device (the registry's identity quotas list 50 modules a device). */
export const MAX_MODULES_PER_DEVICE = 50;

/**
 * Module identities: each belongs to a device and has its own SAS keys and etag. The hub removes a device's
 * modules with the device (`forgetDevice`); connection state is supplied by the connections.
 */
export class ModuleRegistry extends EventEmitter<ModuleRegistryEvents> {
  /** Per device, its modules by id, in creation order. */
  private readonly modules = new Map<string, Map<string, ModuleRecord>>();
  private readonly connectionStates = new Map<string, { connected: boolean; since: string }>();

  constructor(records: readonly ModuleRecord[] = []) {
    super();
    for (const record of records) this.store(record);
  }

  records(): ModuleRecord[] {
    return [...this.modules.values()].flatMap((modules) => [...modules.values()]);
  }

  find(deviceId: string, moduleId: string): ModuleRecord | undefined {
    return this.modules.get(deviceId)?.get(moduleId);
  }

  get(deviceId: string, moduleId: string): ModuleRecord {
    const record = this.find(deviceId, moduleId);
    if (!record) throw hubErrors.moduleNotFound(deviceId, moduleId);
    return record;
  }

  /** The device's modules; the caller checks that the device exists (404 DeviceNotFound otherwise). */
  onDevice(deviceId: string): ModuleRecord[] {
    return [...(this.modules.get(deviceId)?.values() ?? [])];
  }

  /**
   * Creates a module (no `ifMatch`: 409 if it exists) or updates it (`ifMatch` `*` or its etag), as
   * `PUT /devices/{d}/modules/{m}`. The caller checks that the device exists. Empty keys are generated.
   */
  put(
    deviceId: string,
    moduleId: string,
    body: ModuleUpdate,
    ifMatch?: string,
  ): { record: ModuleRecord; created: boolean } {
    if (!isValidModuleId(moduleId)) {
      throw hubErrors.argumentInvalid(
        `Invalid module id ${JSON.stringify(moduleId)}: use ${MODULE_ID_RULE}.`,
      );
    }
    if (body.deviceId !== undefined && body.deviceId !== deviceId) {
      throw hubErrors.argumentInvalid('The deviceId in the body does not match the one in the URL.');
    }
    if (body.moduleId !== undefined && body.moduleId !== moduleId) {
      throw hubErrors.argumentInvalid('The moduleId in the body does not match the one in the URL.');
    }
    const existing = this.find(deviceId, moduleId);
    if (existing && ifMatch === undefined) throw hubErrors.moduleAlreadyExists(deviceId, moduleId);
    if (!existing && ifMatch !== undefined && !isWildcard(ifMatch)) {
      throw hubErrors.moduleNotFound(deviceId, moduleId);
    }
    if (existing && ifMatch !== undefined) checkRecordEtag(existing, ifMatch, 'module');
    if (!existing && this.onDevice(deviceId).length >= MAX_MODULES_PER_DEVICE) {
      throw hubErrors.argumentInvalid(
        `Device ${JSON.stringify(deviceId)} already has ${MAX_MODULES_PER_DEVICE} modules, IoT Hub's limit.`,
      );
    }
    const keys = readKeys(body.authentication);
    const record: ModuleRecord = {
      deviceId,
      moduleId,
      generationId: existing?.generationId ?? generationId(),
      version: (existing?.version ?? 0) + 1,
      primaryKey: keys.primaryKey || existing?.primaryKey || generateKey(),
      secondaryKey: keys.secondaryKey || existing?.secondaryKey || generateKey(),
      managedBy: readManagedBy(body.managedBy) ?? existing?.managedBy ?? '',
    };
    this.store(record);
    if (
      existing &&
      (existing.primaryKey !== record.primaryKey || existing.secondaryKey !== record.secondaryKey)
    ) {
      this.emit('revoked', deviceId, moduleId);
    }
    this.emit('changed');
    return { record, created: !existing };
  }

  delete(deviceId: string, moduleId: string, ifMatch?: string): void {
    const existing = this.get(deviceId, moduleId);
    if (ifMatch !== undefined) checkRecordEtag(existing, ifMatch, 'module');
    this.modules.get(deviceId)?.delete(moduleId);
    if (this.modules.get(deviceId)?.size === 0) this.modules.delete(deviceId);
    this.connectionStates.delete(identityKey(deviceId, moduleId));
    this.emit('revoked', deviceId, moduleId);
    this.emit('changed');
  }

  /** Removes every module of a deleted device (IoT Hub deletes them with it); returns the ids removed. */
  forgetDevice(deviceId: string): string[] {
    const removed = this.onDevice(deviceId).map((record) => record.moduleId);
    this.modules.delete(deviceId);
    for (const moduleId of removed) {
      this.connectionStates.delete(identityKey(deviceId, moduleId));
      this.emit('revoked', deviceId, moduleId);
    }
    if (removed.length > 0) this.emit('changed');
    return removed;
  }

  setConnectionState(deviceId: string, moduleId: string, connected: boolean): void {
    this.connectionStates.set(identityKey(deviceId, moduleId), {
      connected,
      since: new Date().toISOString(),
    });
  }

  describe(record: ModuleRecord): ModuleDescription {
    const connection = this.connectionStates.get(identityKey(record.deviceId, record.moduleId));
    return {
      moduleId: record.moduleId,
      deviceId: record.deviceId,
      generationId: record.generationId,
      etag: etagOf(record),
      connectionState: connection?.connected ? 'Connected' : 'Disconnected',
      connectionStateUpdatedTime: connection?.since ?? EPOCH,
      lastActivityTime: connection?.since ?? EPOCH,
      cloudToDeviceMessageCount: 0,
      authentication: {
        symmetricKey: { primaryKey: record.primaryKey, secondaryKey: record.secondaryKey },
        x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
        type: 'sas',
      },
      managedBy: record.managedBy,
    };
  }

  private store(record: ModuleRecord): void {
    let modules = this.modules.get(record.deviceId);
    if (!modules) {
      modules = new Map();
      this.modules.set(record.deviceId, modules);
    }
    modules.set(record.moduleId, record);
  }
}

/**
 * One string per identity: the device id, or `<device>/<module>` (the MQTT client id of a module). Unambiguous:
 * neither id may contain `/`.
 */
export function identityKey(deviceId: string, moduleId?: string): string {
  return moduleId === undefined ? deviceId : `${deviceId}/${moduleId}`;
}

function readManagedBy(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > 128) {
    throw hubErrors.argumentInvalid('managedBy must be a string of at most 128 characters.');
  }
  return value;
}
