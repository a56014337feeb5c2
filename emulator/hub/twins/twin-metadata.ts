import { cloneDocument, type PatchObject, type TwinObject, type TwinValue } from './twin-properties';

/**
 * A section's `$metadata`, in the shape IoT Hub returns it: at every level (the section itself, each object, each
 * leaf) `$lastUpdated` and, in desired properties, `$lastUpdatedVersion`; an object's children sit next to them
 * under their property names. Property names never hold `$`, so they cannot collide. Arrays are leaves. Objects
 * have no prototype, like the documents they describe.
 */
export interface Metadata {
  [key: string]: Metadata | string | number;
}

/** When and in which section version a change happened; `version` only for desired properties. */
export interface MetadataStamp {
  readonly time: string;
  readonly version?: number | undefined;
}

/** What IoT Hub shows for a section nothing ever wrote to. */
export const NEVER_UPDATED = '0001-01-01T00:00:00Z';

export function stampedNode(stamp: MetadataStamp): Metadata {
  const node = Object.create(null) as Metadata;
  node.$lastUpdated = stamp.time;
  if (stamp.version !== undefined) node.$lastUpdatedVersion = stamp.version;
  return node;
}

/** The metadata of a whole new document (a replacement): every level stamped with the same change. */
export function metadataOf(document: TwinObject, stamp: MetadataStamp): Metadata {
  const root = stampedNode(stamp);
  const stack: { source: TwinObject; target: Metadata }[] = [{ source: document, target: root }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    for (const key of Object.keys(frame.source)) {
      const node = stampedNode(stamp);
      frame.target[key] = node;
      const value = frame.source[key];
      if (isObject(value)) stack.push({ source: value, target: node });
    }
  }
  return root;
}

/**
 * The metadata after `patch` (already applied to the document): each property the patch writes gets a new stamp,
 * and so does every object on the way to it; a deleted property loses its metadata (its parent's stamp records the
 * deletion); a property the patch does not name keeps its own. Returns a new tree; `metadata` is unchanged.
 */
export function updatedMetadata(metadata: Metadata, patch: PatchObject, stamp: MetadataStamp): Metadata {
  const root = cloneDocument(metadata) as unknown as Metadata;
  restamp(root, stamp);
  const stack: { target: Metadata; patch: PatchObject }[] = [{ target: root, patch }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    for (const key of Object.keys(frame.patch)) {
      const value = frame.patch[key];
      if (value === null || value === undefined) {
        Reflect.deleteProperty(frame.target, key);
      } else if (typeof value === 'object' && !Array.isArray(value)) {
        // An object merges into what was there: what it does not name keeps its metadata. A leaf it replaces had
        // none below it.
        const existing = frame.target[key];
        const child = typeof existing === 'object' ? existing : stampedNode(stamp);
        restamp(child, stamp);
        frame.target[key] = child;
        stack.push({ target: child, patch: value });
      } else {
        frame.target[key] = stampedNode(stamp);
      }
    }
  }
  return root;
}

function restamp(node: Metadata, stamp: MetadataStamp): void {
  node.$lastUpdated = stamp.time;
  if (stamp.version !== undefined) node.$lastUpdatedVersion = stamp.version;
}

function isObject(value: TwinValue | undefined): value is TwinObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
