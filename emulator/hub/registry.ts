import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { hubErrors } from './errors';
import { DEVICE_ID_RULE, isValidDeviceId } from './identifiers';
import { generateKey, isValidKey } from './keys';

export type DeviceStatus = 'enabled' | 'disabled';

/** What the emulator persists about a device identity. */
export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  version: number;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  primaryKey: string;
  secondaryKey: string;
  iotEdge: boolean;
}

/** A device as IoT Hub's REST API returns it. */
export interface DeviceDescription {
  deviceId: string;
  generationId: string;
  etag: string;
  connectionState: 'Connected' | 'Disconnected';
  connectionStateUpdatedTime: string;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  lastActivityTime: string;
  cloudToDeviceMessageCount: number;
  authentication: {
    symmetricKey: { primaryKey: string; secondaryKey: string };
    x509Thumbprint: { primaryThumbprint: null; secondaryThumbprint: null };
    type: 'sas';
  };
  capabilities: { iotEdge: boolean };
}

/** The subset of a REST device body the registry reads on create and update. */
export interface DeviceUpdate {
  deviceId?: unknown;
  status?: unknown;
  statusReason?: unknown;
  authentication?: unknown;
  capabilities?: unknown;
}

interface RegistryEvents {
  /** The device can no longer connect (disabled, deleted, or keys changed): drop its connection. */
  revoked: [deviceId: string];
  changed: [];
}

const EPOCH = new Date(0).toISOString();

/** The identity registry: device identities, their keys and status. Connection state is supplied by the MQTT front. */
export class DeviceRegistry extends EventEmitter<RegistryEvents> {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly connectionStates = new Map<
    string,
    { connected: boolean; since: string; lastActivity: string }
  >();

  /** Messages pending for a device (set by the hub, which keeps the cloud-to-device queues). */
  describeMessageCount: (deviceId: string) => number = () => 0;

  constructor(records: readonly DeviceRecord[] = []) {
    super();
    for (const record of records) this.devices.set(record.deviceId, record);
  }

  get size(): number {
    return this.devices.size;
  }

  records(): DeviceRecord[] {
    return [...this.devices.values()];
  }

  find(deviceId: string): DeviceRecord | undefined {
    return this.devices.get(deviceId);
  }

  get(deviceId: string): DeviceRecord {
    const record = this.devices.get(deviceId);
    if (!record) throw hubErrors.deviceNotFound(deviceId);
    return record;
  }

  list(): DeviceDescription[] {
    return this.records().map((record) => this.describe(record));
  }

  /**
   * Creates a device (no `ifMatch`) or updates one (`ifMatch` is `*` or its current etag), as `PUT /devices/{id}`.
   * Empty keys are generated, as IoT Hub does.
   */
  put(deviceId: string, body: DeviceUpdate, ifMatch?: string): { record: DeviceRecord; created: boolean } {
    if (!isValidDeviceId(deviceId)) {
      throw hubErrors.argumentInvalid(
        `Invalid device id ${JSON.stringify(deviceId)}: use ${DEVICE_ID_RULE}.`,
      );
    }
    if (body.deviceId !== undefined && body.deviceId !== deviceId) {
      throw hubErrors.argumentInvalid('The deviceId in the body does not match the one in the URL.');
    }
    const existing = this.devices.get(deviceId);
    if (existing && ifMatch === undefined) throw hubErrors.deviceAlreadyExists(deviceId);
    if (!existing && ifMatch !== undefined && !isWildcard(ifMatch)) throw hubErrors.deviceNotFound(deviceId);
    if (existing && ifMatch !== undefined) this.checkEtag(existing, ifMatch);

    const status = readStatus(body.status) ?? existing?.status ?? 'enabled';
    const keys = readKeys(body.authentication);
    const now = new Date().toISOString();
    const record: DeviceRecord = {
      deviceId,
      generationId: existing?.generationId ?? generationId(),
      version: (existing?.version ?? 0) + 1,
      status,
      statusReason:
        typeof body.statusReason === 'string' ? body.statusReason : (existing?.statusReason ?? null),
      statusUpdatedTime: existing && existing.status === status ? existing.statusUpdatedTime : now,
      primaryKey: keys.primaryKey || existing?.primaryKey || generateKey(),
      secondaryKey: keys.secondaryKey || existing?.secondaryKey || generateKey(),
      iotEdge: readIotEdge(body.capabilities) ?? existing?.iotEdge ?? false,
    };
    this.devices.set(deviceId, record);
    if (
      existing &&
      (status === 'disabled' ||
        existing.primaryKey !== record.primaryKey ||
        existing.secondaryKey !== record.secondaryKey)
    ) {
      this.emit('revoked', deviceId);
    }
    this.emit('changed');
    return { record, created: !existing };
  }

  /** Creates the device if it does not exist yet; returns it either way. */
  ensure(deviceId: string): DeviceRecord {
    return this.devices.get(deviceId) ?? this.put(deviceId, {}).record;
  }

  delete(deviceId: string, ifMatch?: string): void {
    const existing = this.get(deviceId);
    if (ifMatch !== undefined) this.checkEtag(existing, ifMatch);
    this.devices.delete(deviceId);
    this.connectionStates.delete(deviceId);
    this.emit('revoked', deviceId);
    this.emit('changed');
  }

  setConnectionState(deviceId: string, connected: boolean): void {
    const now = new Date().toISOString();
    this.connectionStates.set(deviceId, { connected, since: now, lastActivity: now });
  }

  describe(record: DeviceRecord): DeviceDescription {
    const connection = this.connectionStates.get(record.deviceId);
    return {
      deviceId: record.deviceId,
      generationId: record.generationId,
      etag: etagOf(record),
      connectionState: connection?.connected ? 'Connected' : 'Disconnected',
      connectionStateUpdatedTime: connection?.since ?? EPOCH,
      status: record.status,
      statusReason: record.statusReason,
      statusUpdatedTime: record.statusUpdatedTime,
      lastActivityTime: connection?.lastActivity ?? EPOCH,
      cloudToDeviceMessageCount: this.describeMessageCount(record.deviceId),
      authentication: {
        symmetricKey: { primaryKey: record.primaryKey, secondaryKey: record.secondaryKey },
        x509Thumbprint: { primaryThumbprint: null, secondaryThumbprint: null },
        type: 'sas',
      },
      capabilities: { iotEdge: record.iotEdge },
    };
  }

  private checkEtag(record: DeviceRecord, ifMatch: string): void {
    checkRecordEtag(record, ifMatch, 'device');
  }
}

/** 412 unless `ifMatch` is `*` or the record's etag (quoted or not, weak prefix ignored). */
export function checkRecordEtag(record: { readonly version: number }, ifMatch: string, what: string): void {
  const unquoted = ifMatch.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  if (unquoted === '*') return;
  if (unquoted !== etagOf(record).replace(/^"|"$/g, '')) {
    throw hubErrors.preconditionFailed(
      `The etag ${JSON.stringify(ifMatch.slice(0, 64))} does not match the ${what}'s current etag.`,
    );
  }
}

export function isWildcard(ifMatch: string): boolean {
  return ifMatch.trim().replace(/^"|"$/g, '') === '*';
}

/** A registry etag: the record's version in base64, quoted, as IoT Hub's weak identity etags look. */
export function etagOf(record: { readonly version: number }): string {
  return `"${Buffer.from(String(record.version)).toString('base64')}"`;
}

export function generationId(): string {
  // IoT Hub generation ids are 18-digit numbers as strings.
  return (BigInt('0x' + randomBytes(8).toString('hex')) % 10n ** 18n).toString().padStart(18, '6');
}

function readStatus(value: unknown): DeviceStatus | undefined {
  if (value === undefined || value === null) return undefined;
  if (value === 'enabled' || value === 'disabled') return value;
  throw hubErrors.argumentInvalid(`Invalid status ${JSON.stringify(value)}: use "enabled" or "disabled".`);
}

function readIotEdge(value: unknown): boolean | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const iotEdge = (value as { iotEdge?: unknown }).iotEdge;
  return typeof iotEdge === 'boolean' ? iotEdge : undefined;
}

/** The symmetric keys of a REST identity body: both, or neither (empty strings) so that the hub generates them. */
export function readKeys(authentication: unknown): { primaryKey: string; secondaryKey: string } {
  if (authentication === undefined || authentication === null) return { primaryKey: '', secondaryKey: '' };
  if (typeof authentication !== 'object')
    throw hubErrors.argumentInvalid('authentication must be an object.');
  const { type, symmetricKey } = authentication as { type?: unknown; symmetricKey?: unknown };
  if (type !== undefined && type !== null && type !== 'sas') {
    throw hubErrors.argumentInvalid(
      `Authentication type ${JSON.stringify(type)} is not supported by the emulator; use "sas".`,
    );
  }
  if (symmetricKey === undefined || symmetricKey === null) return { primaryKey: '', secondaryKey: '' };
  const { primaryKey, secondaryKey } = symmetricKey as { primaryKey?: unknown; secondaryKey?: unknown };
  const keys = {
    primaryKey: readKey(primaryKey, 'primaryKey'),
    secondaryKey: readKey(secondaryKey, 'secondaryKey'),
  };
  if ((keys.primaryKey === '') !== (keys.secondaryKey === '')) {
    throw hubErrors.argumentInvalid('Give both symmetric keys, or neither so that the hub generates them.');
  }
  return keys;
}

function readKey(value: unknown, name: string): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string' || !isValidKey(value)) {
    throw hubErrors.argumentInvalid(`${name} must be a base64-encoded key of 16 to 64 bytes.`);
  }
  return value;
}
