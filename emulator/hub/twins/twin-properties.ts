import { NESTING_PROBLEM, TWIN_LIMITS, twinKeyProblem, twinLeafProblem } from '../../../src/lib/twin-rules';

/**
 * Twin property documents (tags, desired, reported) built from client JSON, with IoT Hub's rules. Every object is
 * created without a prototype, so a key such as `__proto__`, `constructor` or `prototype` is plain data (IoT Hub
 * allows those names) and can never reach `Object.prototype`. Every walk uses an explicit stack: a patch nested a
 * hundred thousand levels deep is refused for its depth, never followed.
 */

/** A twin value as stored: JSON, objects without prototype (null appears only inside arrays: it deletes elsewhere). */
export type TwinValue = string | number | boolean | null | TwinValue[] | TwinObject;
export interface TwinObject {
  [key: string]: TwinValue;
}

/** A patch: like a document, but null marks a property to delete. */
export type PatchValue = string | number | boolean | null | PatchValue[] | PatchObject;
export interface PatchObject {
  [key: string]: PatchValue;
}

/** IoT Hub's limits for twin documents (src/lib/twin-rules.ts, shared with the twin functions). */
export { TWIN_LIMITS };

export class TwinPatchError extends Error {
  override readonly name = 'TwinPatchError';
  constructor(
    /** What IoT Hub answers: 400 for a malformed patch, 413 when the document would exceed its size limit. */
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

export function emptyTwinObject(): TwinObject {
  return Object.create(null) as TwinObject;
}

/**
 * Reads a patch from client JSON text: an object whose keys and values follow IoT Hub's rules, copied into
 * prototype-less objects. Throws TwinPatchError (400) with a message saying what is wrong.
 */
export function parsePropertyPatch(text: string): PatchObject {
  let parsed: unknown;
  try {
    // JSON.parse is iterative in V8: depth alone cannot exhaust the stack here.
    parsed = JSON.parse(text);
  } catch {
    throw new TwinPatchError(400, 'The patch is not valid JSON.');
  }
  return readPropertyPatch(parsed);
}

/**
 * Reads a patch from an already parsed JSON value (a service request body), as parsePropertyPatch does from text.
 * `section` names the document in error messages.
 */
export function readPropertyPatch(parsed: unknown, section = 'The patch'): PatchObject {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TwinPatchError(400, `${section} must be a JSON object.`);
  }
  return copyPatch(parsed as Record<string, unknown>);
}

interface CopyFrame {
  readonly source: unknown;
  readonly depth: number;
  readonly assign: (value: PatchValue) => void;
}

/** Validates and copies, breadth by breadth, with the depth of each object counted from the section. */
function copyPatch(root: Record<string, unknown>): PatchObject {
  const result = Object.create(null) as PatchObject;
  const stack: CopyFrame[] = [];
  const pushChildren = (source: Record<string, unknown>, target: PatchObject, depth: number) => {
    // In reverse, so that they come off the stack (and into `target`) in the order the client wrote them.
    for (const key of Object.keys(source).reverse()) {
      checkKey(key);
      stack.push({
        source: source[key],
        depth,
        assign: (value) => {
          target[key] = value;
        },
      });
    }
  };
  pushChildren(root, result, 0);
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { source, depth, assign } = frame;
    if (typeof source !== 'object' || source === null) {
      const problem = twinLeafProblem(source);
      if (problem) throw new TwinPatchError(400, problem);
      assign(source as string | number | boolean | null);
    } else {
      if (depth + 1 > TWIN_LIMITS.maxNesting) throw new TwinPatchError(400, NESTING_PROBLEM);
      if (Array.isArray(source)) {
        const array: PatchValue[] = new Array<PatchValue>(source.length);
        assign(array);
        source.forEach((item: unknown, index) => {
          stack.push({
            source: item,
            depth: depth + 1,
            assign: (value) => {
              array[index] = value;
            },
          });
        });
      } else {
        const object = Object.create(null) as PatchObject;
        assign(object);
        pushChildren(source as Record<string, unknown>, object, depth + 1);
      }
    }
  }
  return result;
}

function checkKey(key: string): void {
  const problem = twinKeyProblem(key);
  if (problem) throw new TwinPatchError(400, problem);
}

/**
 * Applies a patch to a copy of `document` (JSON merge patch: null deletes, objects merge, anything else replaces)
 * and returns the copy; `document` is unchanged, so that a patch refused for its size leaves nothing behind.
 */
export function applyPatch(document: TwinObject, patch: PatchObject): TwinObject {
  const result = cloneDocument(document);
  const stack: { target: TwinObject; patch: PatchObject }[] = [{ target: result, patch }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    for (const key of Object.keys(frame.patch)) {
      const value = frame.patch[key];
      if (value === null || value === undefined) {
        Reflect.deleteProperty(frame.target, key);
      } else if (typeof value === 'object' && !Array.isArray(value)) {
        const existing = frame.target[key];
        const child =
          typeof existing === 'object' && existing !== null && !Array.isArray(existing)
            ? existing
            : emptyTwinObject();
        frame.target[key] = child;
        stack.push({ target: child, patch: value });
      } else {
        frame.target[key] = cloneValue(value);
      }
    }
  }
  return result;
}

export function cloneDocument(document: TwinObject): TwinObject {
  return cloneValue(document) as TwinObject;
}

function cloneValue(value: TwinValue): TwinValue {
  if (typeof value !== 'object' || value === null) return value;
  const root: TwinValue[] | TwinObject = Array.isArray(value) ? [] : emptyTwinObject();
  const stack: { source: TwinValue[] | TwinObject; target: TwinValue[] | TwinObject }[] = [
    { source: value, target: root },
  ];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const { source, target } = frame;
    for (const key of Object.keys(source)) {
      const child = (source as Record<string, TwinValue>)[key];
      if (child === undefined) continue;
      if (typeof child === 'object' && child !== null) {
        const copy: TwinValue[] | TwinObject = Array.isArray(child) ? [] : emptyTwinObject();
        (target as Record<string, TwinValue>)[key] = copy;
        stack.push({ source: child, target: copy });
      } else {
        (target as Record<string, TwinValue>)[key] = child;
      }
    }
  }
  return root;
}

/**
 * A document's size as IoT Hub counts it: for each property, the characters of its key plus its value, strings
 * counted in characters other than control characters, numbers as 8 bytes, booleans as 4, objects and arrays as
 * the sum of what they hold.
 */
export function documentSize(document: TwinObject): number {
  let size = 0;
  const stack: (TwinValue[] | TwinObject)[] = [document];
  for (let container = stack.pop(); container !== undefined; container = stack.pop()) {
    const isArray = Array.isArray(container);
    for (const key of Object.keys(container)) {
      if (!isArray) size += countedCharacters(key);
      const value = (container as Record<string, TwinValue>)[key];
      if (typeof value === 'string') size += countedCharacters(value);
      else if (typeof value === 'number') size += 8;
      else if (typeof value === 'boolean') size += 4;
      else if (value !== undefined && value !== null) stack.push(value);
    }
  }
  return size;
}

function countedCharacters(text: string): number {
  let count = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (!(code <= 0x1f || (code >= 0x80 && code <= 0x9f))) count++;
  }
  return count;
}

/** Throws TwinPatchError(413) when `document` is over `limitBytes`, naming the section. */
export function checkDocumentSize(document: TwinObject, limitBytes: number, section: string): void {
  const size = documentSize(document);
  if (size > limitBytes) {
    throw new TwinPatchError(
      413,
      `The ${section} properties would be ${size} bytes; IoT Hub allows at most ${limitBytes} bytes.`,
    );
  }
}
