import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { CertificateAuthorities } from './auth/ca-store';
import {
  readAuthentication,
  readSymmetricKeys,
  type AuthenticationDescription,
  type AuthenticationType,
  type IdentityAuthentication,
} from './auth/identity-authentication';
import { hubErrors } from './errors';
import { DEVICE_ID_RULE, isValidDeviceId } from './identifiers';
import { generateKey } from './keys';

export type DeviceStatus = 'enabled' | 'disabled';

/** What the emulator persists about a device identity. */
export interface DeviceRecord {
  deviceId: string;
  generationId: string;
  version: number;
  status: DeviceStatus;
  statusReason: string | null;
  statusUpdatedTime: string;
  /** Empty for an X.509 device (it has no keys). */
  primaryKey: string;
  secondaryKey: string;
  /** Absent in records written before X.509 devices existed: `sas` then. */
  authType?: AuthenticationType;
  /** A `selfSigned` device's thumbprints (SHA-1 or SHA-256 hex, as registered). */
  primaryThumbprint?: string | null;
  secondaryThumbprint?: string | null;
  iotEdge: boolean;
  /** An IoT Edge device's own scope, or the scope of a child device's parent; kept as given otherwise. */
  deviceScope?: string;
  parentScopes?: string[];
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
  authentication: AuthenticationDescription;
  capabilities: { iotEdge: boolean };
  /** `ms-azure-iot-edge://<deviceId>-<generationId>` for an IoT Edge device; its parent's for a child device. */
  deviceScope?: string;
  parentScopes: string[];
}

/** The subset of a REST device body the registry reads on create and update. */
export interface DeviceUpdate {
  deviceId?: unknown;
  status?: unknown;
  statusReason?: unknown;
  authentication?: unknown;
  capabilities?: unknown;
  deviceScope?: unknown;
  parentScopes?: unknown;
}

interface RegistryEvents {
  /** The device can no longer connect (disabled, deleted, or credentials changed): drop its connection. */
  revoked: [deviceId: string];
  changed: [];
}

const EPOCH = new Date(0).toISOString();

/**
 * The identity registry: device identities, their credentials (SAS keys or X.509 thumbprints or CA) and status,
 * and the CA certificates X.509 devices chain to. Connection state is supplied by the transports.
 */
export class DeviceRegistry extends EventEmitter<RegistryEvents> {
  private readonly devices = new Map<string, DeviceRecord>();
  private readonly connectionStates = new Map<
    string,
    { connected: boolean; since: string; lastActivity: string }
  >();

  /** The CA certificates `certificateAuthority` devices chain to (IoT Hub's certificate resources). */
  readonly certificateAuthorities = new CertificateAuthorities();

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
    const authentication = readAuthentication(body.authentication) ?? currentAuthentication(existing);
    const iotEdge = readIotEdge(body.capabilities) ?? existing?.iotEdge ?? false;
    const parentScopes = readParentScopes(body.parentScopes) ?? existing?.parentScopes ?? [];
    const now = new Date().toISOString();
    const id = existing?.generationId ?? generationId();
    const keys =
      authentication.type === 'sas'
        ? {
            primaryKey: authentication.primaryKey || existing?.primaryKey || generateKey(),
            secondaryKey: authentication.secondaryKey || existing?.secondaryKey || generateKey(),
          }
        : { primaryKey: '', secondaryKey: '' };
    const deviceScope = iotEdge
      ? edgeDeviceScope(deviceId, id)
      : (readDeviceScope(body.deviceScope) ?? nonEdgeScope(existing));
    const record: DeviceRecord = {
      deviceId,
      generationId: id,
      version: (existing?.version ?? 0) + 1,
      status,
      statusReason:
        typeof body.statusReason === 'string' ? body.statusReason : (existing?.statusReason ?? null),
      statusUpdatedTime: existing && existing.status === status ? existing.statusUpdatedTime : now,
      ...keys,
      authType: authentication.type,
      primaryThumbprint: authentication.type === 'selfSigned' ? authentication.primaryThumbprint : null,
      secondaryThumbprint: authentication.type === 'selfSigned' ? authentication.secondaryThumbprint : null,
      iotEdge,
      ...(deviceScope === undefined ? {} : { deviceScope }),
      parentScopes,
    };
    this.devices.set(deviceId, record);
    if (existing && (status === 'disabled' || credentialsChanged(existing, record))) {
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
      authentication: describeAuthentication(record),
      capabilities: { iotEdge: record.iotEdge },
      ...(record.deviceScope === undefined ? {} : { deviceScope: record.deviceScope }),
      parentScopes: record.parentScopes ?? [],
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

/**
 * The symmetric keys of a module's REST body: both, or neither (empty strings) so that the hub generates them.
 * Modules authenticate with SAS only in the emulator.
 */
export function readKeys(authentication: unknown): { primaryKey: string; secondaryKey: string } {
  if (authentication === undefined || authentication === null) return { primaryKey: '', secondaryKey: '' };
  if (typeof authentication !== 'object')
    throw hubErrors.argumentInvalid('authentication must be an object.');
  const { type, symmetricKey } = authentication as { type?: unknown; symmetricKey?: unknown };
  if (type !== undefined && type !== null && type !== 'sas') {
    throw hubErrors.argumentInvalid(
      `Authentication type ${JSON.stringify(type)} is not supported by the emulator for modules; use "sas".`,
    );
  }
  return readSymmetricKeys(symmetricKey);
}

/** How a device authenticates (records written before X.509 existed are SAS devices). */
export function authenticationTypeOf(record: DeviceRecord): AuthenticationType {
  return record.authType ?? 'sas';
}

function describeAuthentication(record: DeviceRecord): AuthenticationDescription {
  const type = authenticationTypeOf(record);
  return {
    symmetricKey:
      type === 'sas'
        ? { primaryKey: record.primaryKey, secondaryKey: record.secondaryKey }
        : { primaryKey: null, secondaryKey: null },
    x509Thumbprint: {
      primaryThumbprint: type === 'selfSigned' ? (record.primaryThumbprint ?? null) : null,
      secondaryThumbprint: type === 'selfSigned' ? (record.secondaryThumbprint ?? null) : null,
    },
    type,
  };
}

/** What an update without `authentication` keeps: the current credentials (keys kept by the caller). */
function currentAuthentication(existing: DeviceRecord | undefined): IdentityAuthentication {
  const type = existing ? authenticationTypeOf(existing) : 'sas';
  if (type === 'selfSigned' && existing?.primaryThumbprint) {
    return {
      type,
      primaryThumbprint: existing.primaryThumbprint,
      secondaryThumbprint: existing.secondaryThumbprint ?? null,
    };
  }
  if (type === 'certificateAuthority') return { type };
  return { type: 'sas', primaryKey: '', secondaryKey: '' };
}

/** Whether connections that authenticated with `before`'s credentials must be dropped. */
function credentialsChanged(before: DeviceRecord, after: DeviceRecord): boolean {
  return (
    before.primaryKey !== after.primaryKey ||
    before.secondaryKey !== after.secondaryKey ||
    authenticationTypeOf(before) !== authenticationTypeOf(after) ||
    (before.primaryThumbprint ?? null) !== (after.primaryThumbprint ?? null) ||
    (before.secondaryThumbprint ?? null) !== (after.secondaryThumbprint ?? null)
  );
}

/** IoT Hub's scope of an IoT Edge device: `ms-azure-iot-edge://<deviceId>-<generationId>`. */
export function edgeDeviceScope(deviceId: string, generation: string): string {
  return `ms-azure-iot-edge://${deviceId}-${generation}`;
}

/** A device that stops being an IoT Edge device loses its own scope; a child's parent scope is kept. */
function nonEdgeScope(existing: DeviceRecord | undefined): string | undefined {
  if (!existing?.deviceScope) return undefined;
  return existing.iotEdge ? undefined : existing.deviceScope;
}

function readDeviceScope(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 1024) {
    throw hubErrors.argumentInvalid(
      'deviceScope must be a string (the scope of the parent IoT Edge device).',
    );
  }
  return value;
}

function readParentScopes(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((scope) => typeof scope !== 'string' || scope.length > 1024)) {
    throw hubErrors.argumentInvalid('parentScopes must be an array of IoT Edge device scopes.');
  }
  return value as string[];
}
