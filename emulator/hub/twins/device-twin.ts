import { metadataOf, NEVER_UPDATED, stampedNode, updatedMetadata, type Metadata } from './twin-metadata';
import {
  applyPatch,
  checkDocumentSize,
  emptyTwinObject,
  TWIN_LIMITS,
  type PatchObject,
  type TwinObject,
} from './twin-properties';

/** Desired or reported properties, with the section's `$version` and `$metadata`. */
export interface TwinSection {
  readonly properties: TwinObject;
  readonly version: number;
  readonly metadata: Metadata;
}

/**
 * One device's twin as the hub keeps it (and persists it). Values are replaced, never changed in place: an operation
 * refused half-way (a size limit) leaves the previous twin untouched.
 */
export interface DeviceTwin {
  readonly deviceId: string;
  /** The twin's `version`: one more for every change of tags, desired or reported properties. */
  readonly version: number;
  readonly tags: TwinObject;
  readonly desired: TwinSection;
  readonly reported: TwinSection;
}

/** How a service request changes a document: merged as a patch (PATCH) or replaced whole (PUT). */
export type DocumentChange =
  | { readonly kind: 'patch'; readonly patch: PatchObject }
  | { readonly kind: 'replace'; readonly document: TwinObject };

export interface ServiceChange {
  readonly tags?: DocumentChange | undefined;
  readonly desired?: DocumentChange | undefined;
}

/** A device's twin before anything wrote to it: version 1 everywhere, as IoT Hub creates it with the device. */
export function newTwin(deviceId: string): DeviceTwin {
  const emptySection = (): TwinSection => ({
    properties: emptyTwinObject(),
    version: 1,
    metadata: stampedNode({ time: NEVER_UPDATED }),
  });
  return { deviceId, version: 1, tags: emptyTwinObject(), desired: emptySection(), reported: emptySection() };
}

/**
 * The twin's etag: its version as 8 bytes, big-endian, in base64 (`AAAAAAAAAAE=` for version 1), the form IoT Hub's
 * etags take. Unquoted; HTTP headers quote it.
 */
export function twinEtag(twin: DeviceTwin): string {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(BigInt(twin.version));
  return bytes.toString('base64');
}

/** The twin after a service change of tags and desired properties; throws TwinPatchError(413) over a size limit. */
export function withServiceChange(twin: DeviceTwin, change: ServiceChange, time: string): DeviceTwin {
  const tags = change.tags ? changedDocument(twin.tags, change.tags) : twin.tags;
  if (change.tags) checkDocumentSize(tags, TWIN_LIMITS.tagsBytes, 'tags');
  let desired = twin.desired;
  if (change.desired) {
    const properties = changedDocument(desired.properties, change.desired);
    checkDocumentSize(properties, TWIN_LIMITS.propertiesBytes, 'desired');
    const version = desired.version + 1;
    const stamp = { time, version };
    const metadata =
      change.desired.kind === 'patch'
        ? updatedMetadata(desired.metadata, change.desired.patch, stamp)
        : metadataOf(properties, stamp);
    desired = { properties, version, metadata };
  }
  return { ...twin, version: twin.version + 1, tags, desired };
}

/** The twin after a device's reported-properties patch; throws TwinPatchError(413) over the size limit. */
export function withReportedPatch(twin: DeviceTwin, patch: PatchObject, time: string): DeviceTwin {
  const properties = applyPatch(twin.reported.properties, patch);
  checkDocumentSize(properties, TWIN_LIMITS.propertiesBytes, 'reported');
  const reported: TwinSection = {
    properties,
    version: twin.reported.version + 1,
    metadata: updatedMetadata(twin.reported.metadata, patch, { time }),
  };
  return { ...twin, version: twin.version + 1, reported };
}

function changedDocument(document: TwinObject, change: DocumentChange): TwinObject {
  return change.kind === 'patch' ? applyPatch(document, change.patch) : change.document;
}
