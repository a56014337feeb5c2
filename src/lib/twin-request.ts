import { ValidationError } from './errors';
import { DEVICE_ID_RULE, isValidDeviceId } from './iothub-rules';
import { twinPatchProblem } from './twin-rules';
import { parseJsonObjectBody } from './json-body';

/** A validated twin update, ready for `Registry.updateTwin`: the patch as IoT Hub takes it, and the etag to match. */
export interface TwinUpdate {
  readonly deviceId: string;
  readonly patch: TwinPatch;
  /** The twin etag the caller read (`If-Match`), or `*` to update whatever the twin holds. */
  readonly etag: string;
}

/** IoT Hub's twin patch: tags and desired properties, merged (a null deletes). */
export interface TwinPatch {
  readonly tags?: Record<string, unknown>;
  readonly properties?: { readonly desired: Record<string, unknown> };
}

/** An etag as IoT Hub writes them (base64, optionally quoted) or `*`; anything else cannot match. */
const ETAG = /^\*$|^(?:W\/)?"?[A-Za-z0-9+/=]{1,64}"?$/;

/** The route's device id, checked against IoT Hub's rule so that a bad one costs no hub call. */
export function parseTwinDeviceId(params: Readonly<Record<string, string | undefined>>): string {
  const deviceId = params.deviceId ?? '';
  if (!isValidDeviceId(deviceId)) {
    throw new ValidationError(
      'InvalidDeviceId',
      'deviceId',
      `The device id ${JSON.stringify(deviceId)} is invalid: use ${DEVICE_ID_RULE}.`,
    );
  }
  return deviceId;
}

/**
 * Validates `PATCH /api/devices/{deviceId}/twin`: a JSON body `{"tags": {...}, "properties": {"desired": {...}}}`
 * (at least one of them) whose names, values and nesting follow IoT Hub's twin rules, and an optional `If-Match`
 * etag. Sizes are left to the hub, which knows the documents the patch merges into.
 */
export function parseTwinUpdate(
  params: Readonly<Record<string, string | undefined>>,
  bodyText: string,
  ifMatch: string | null,
): TwinUpdate {
  const deviceId = parseTwinDeviceId(params);
  const etag = ifMatch === null || ifMatch.trim() === '' ? '*' : ifMatch.trim();
  if (!ETAG.test(etag)) {
    throw new ValidationError(
      'InvalidIfMatch',
      'If-Match',
      'If-Match must be the etag of the twin as read (GET .../twin answers it), or *.',
    );
  }
  const body = parseObject(bodyText);
  for (const key of Object.keys(body)) {
    if (key !== 'tags' && key !== 'properties') {
      throw new ValidationError(
        'UnknownField',
        key,
        `Unknown field ${JSON.stringify(key)}; the body takes tags and properties.desired.`,
      );
    }
  }
  const tags = body.tags === undefined ? undefined : checkedDocument(body.tags, 'tags');
  const desired = readDesired(body.properties);
  if (tags === undefined && desired === undefined) {
    throw new ValidationError(
      'EmptyPatch',
      'body',
      'The body changes nothing: give tags, properties.desired or both, e.g. {"properties": {"desired": {"telemetryInterval": 5}}}.',
    );
  }
  return {
    deviceId,
    etag,
    patch: { ...(tags ? { tags } : {}), ...(desired ? { properties: { desired } } : {}) },
  };
}

function readDesired(properties: unknown): Record<string, unknown> | undefined {
  if (properties === undefined) return undefined;
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    throw new ValidationError(
      'InvalidTwinPatch',
      'properties',
      'properties must be an object holding desired.',
    );
  }
  for (const key of Object.keys(properties)) {
    if (key !== 'desired') {
      throw new ValidationError(
        key === 'reported' ? 'ReadOnlyField' : 'UnknownField',
        `properties.${key}`,
        key === 'reported'
          ? 'Reported properties are written by the device; the back end sets desired properties and tags.'
          : `Unknown field ${JSON.stringify(key)} in properties; only desired can be set.`,
      );
    }
  }
  const desired = (properties as { desired?: unknown }).desired;
  return desired === undefined ? undefined : checkedDocument(desired, 'properties.desired');
}

function checkedDocument(value: unknown, field: string): Record<string, unknown> {
  const problem = twinPatchProblem(value);
  if (problem) {
    // Names may be up to 1 KB each, ten levels deep: the target is cut short rather than echoed whole.
    const target = (problem.path ? `${field}.${problem.path}` : field).slice(0, 256);
    throw new ValidationError('InvalidTwinPatch', target, `${target}: ${problem.message}`);
  }
  return value as Record<string, unknown>;
}

function parseObject(text: string): Record<string, unknown> {
  return parseJsonObjectBody(text, '{"properties": {"desired": {"telemetryInterval": 5}}}');
}
