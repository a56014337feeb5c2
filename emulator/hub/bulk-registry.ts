import { HubError, hubErrors } from './errors';
import type { DeviceRegistry, DeviceUpdate } from './registry';

/** IoT Hub's limit on one bulk registry request. */
export const MAX_BULK_DEVICES = 100;

type ImportMode = 'create' | 'update' | 'updateIfMatchETag' | 'delete' | 'deleteIfMatchETag';
const IMPORT_MODES: readonly ImportMode[] = [
  'create',
  'update',
  'updateIfMatchETag',
  'delete',
  'deleteIfMatchETag',
];
/** IoT Hub reads the mode case-insensitively: azure-iothub sends `create`, `Update`, `DeleteIfMatchETag`. */
const MODES_BY_LOWER_CASE: ReadonlyMap<string, ImportMode> = new Map(
  IMPORT_MODES.map((mode) => [mode.toLowerCase(), mode]),
);

/** `POST /devices`'s answer (BulkRegistryOperationResult). */
export interface BulkRegistryResult {
  readonly isSuccessful: boolean;
  readonly errors: readonly { deviceId: string; errorCode: string; errorStatus: string }[];
  readonly warnings: readonly { deviceId: string; warningCode: string; warningStatus: string }[];
}

interface BulkItem {
  readonly id: string;
  readonly mode: ImportMode;
  readonly etag: string | undefined;
  readonly device: DeviceUpdate;
}

/**
 * `POST /devices`: creates, updates and deletes up to 100 devices, each as its own operation (as IoT Hub does: one
 * failing does not undo the others), and reports each failure under its device id. A malformed request (not an
 * array, too many or no devices, an unknown importMode, a device named twice) is refused whole with 400 before
 * anything changes.
 */
export function runBulkRegistryOperation(registry: DeviceRegistry, body: unknown): BulkRegistryResult {
  const items = readBulkRequest(body);
  const errors: { deviceId: string; errorCode: string; errorStatus: string }[] = [];
  for (const item of items) {
    try {
      apply(registry, item);
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      errors.push({ deviceId: item.id, errorCode: error.codeName, errorStatus: error.message });
    }
  }
  return { isSuccessful: errors.length === 0, errors, warnings: [] };
}

function apply(registry: DeviceRegistry, { id, mode, etag, device }: BulkItem): void {
  const withId = { ...device, deviceId: id };
  switch (mode) {
    case 'create':
      registry.put(id, withId);
      return;
    case 'update':
      // IoT Hub's Update registers the device if it does not exist yet, and overwrites it otherwise.
      registry.put(id, withId, registry.find(id) ? '*' : undefined);
      return;
    case 'updateIfMatchETag':
      registry.put(id, withId, etag ?? '');
      return;
    case 'delete':
      registry.delete(id);
      return;
    case 'deleteIfMatchETag':
      registry.delete(id, etag ?? '');
      return;
  }
}

function readBulkRequest(body: unknown): BulkItem[] {
  if (!Array.isArray(body))
    throw hubErrors.argumentInvalid('The request body must be a JSON array of devices.');
  if (body.length === 0 || body.length > MAX_BULK_DEVICES) {
    throw hubErrors.argumentInvalid(
      `A bulk registry request takes 1 to ${MAX_BULK_DEVICES} devices; this one has ${body.length}.`,
    );
  }
  const seen = new Set<string>();
  return (body as unknown[]).map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw hubErrors.argumentInvalid(`Device ${index} is not a JSON object.`);
    }
    const fields = entry as Record<string, unknown>;
    const id = fields.id ?? fields.deviceId;
    if (typeof id !== 'string' || id === '') throw hubErrors.argumentInvalid(`Device ${index} has no id.`);
    if (seen.has(id)) {
      throw new HubError(
        400,
        400011,
        'DeviceDefinedMultipleTimes',
        `The device ${JSON.stringify(id)} is named twice.`,
      );
    }
    seen.add(id);
    const written = fields.importMode ?? 'create';
    const mode = typeof written === 'string' ? MODES_BY_LOWER_CASE.get(written.toLowerCase()) : undefined;
    if (mode === undefined) {
      throw hubErrors.argumentInvalid(
        `Device ${JSON.stringify(id)}: importMode must be one of ${IMPORT_MODES.join(', ')}.`,
      );
    }
    const etag = fields.eTag ?? fields.etag;
    return {
      id,
      mode,
      etag: typeof etag === 'string' && etag !== '' ? etag : undefined,
      device: {
        status: fields.status,
        statusReason: fields.statusReason,
        authentication: fields.authentication,
        capabilities: fields.capabilities,
      },
    };
  });
}
