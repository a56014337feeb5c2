import type { DocumentChange, ServiceChange } from './device-twin';
import { applyPatch, emptyTwinObject, readPropertyPatch, TwinPatchError } from './twin-properties';

/** Read-only names a section carries when a client sends back a twin it read (`Twin.get()`, then update). */
const READ_ONLY_SECTION_KEYS: ReadonlySet<string> = new Set(['$metadata', '$version']);

/**
 * Reads a service's twin request body: `{"tags": {...}, "properties": {"desired": {...}}}`, merged (`patch`, as
 * `PATCH /twins/{id}`) or replacing the sections it names (`replace`, as `PUT /twins/{id}`). The rest of a twin
 * (identity fields, `etag`, `version`, reported properties in a replacement) is read-only and ignored, since the
 * SDKs send whole twins; a patch that writes reported properties is refused, as they are the device's. Throws
 * TwinPatchError(400) saying what is wrong.
 */
export function readServiceChange(body: unknown, deviceId: string, kind: 'patch' | 'replace'): ServiceChange {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TwinPatchError(400, 'The request body must be a twin JSON object with tags and properties.');
  }
  const twin = body as Record<string, unknown>;
  if (twin.deviceId !== undefined && twin.deviceId !== deviceId) {
    throw new TwinPatchError(400, 'The deviceId in the body does not match the one in the URL.');
  }
  const properties = optionalObject(twin.properties, 'properties');
  if (kind === 'patch' && properties?.reported !== undefined && properties.reported !== null) {
    const reported = optionalObject(properties.reported, 'properties.reported') ?? {};
    if (Object.keys(reported).some((key) => !READ_ONLY_SECTION_KEYS.has(key))) {
      throw new TwinPatchError(
        400,
        'Reported properties are written by the device; a service can change tags and desired properties.',
      );
    }
  }
  return {
    tags: documentChange(twin.tags, 'tags', kind),
    desired: documentChange(withoutReadOnlyKeys(properties?.desired), 'properties.desired', kind),
  };
}

function documentChange(value: unknown, name: string, kind: 'patch' | 'replace'): DocumentChange | undefined {
  if (value === undefined || value === null) return undefined;
  const patch = readPropertyPatch(value, name);
  // In a replacement, a null deletes nothing: the property is simply absent from the new document.
  return kind === 'patch' ? { kind, patch } : { kind, document: applyPatch(emptyTwinObject(), patch) };
}

function withoutReadOnlyKeys(section: unknown): unknown {
  if (typeof section !== 'object' || section === null || Array.isArray(section)) return section;
  const copy = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(section)) {
    if (!READ_ONLY_SECTION_KEYS.has(key)) copy[key] = value;
  }
  return copy;
}

function optionalObject(value: unknown, name: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new TwinPatchError(400, `${name} must be a JSON object.`);
  }
  return value as Record<string, unknown>;
}
