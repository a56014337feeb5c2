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

/**
 * IoT Hub's limits (device twins documentation, "Tags and properties format" and "Twin size"): objects nest at
 * most 10 levels below the section, keys are at most 1 KB and exclude control characters, `.`, `$` and spaces,
 * string values are at most 4 KB; tags are at most 8 KB and desired and reported at most 32 KB each.
 */
export const TWIN_LIMITS = {
  maxNesting: 10,
  maxKeyBytes: 1024,
  maxStringBytes: 4 * 1024,
  tagsBytes: 8 * 1024,
  propertiesBytes: 32 * 1024,
} as const;

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

// C0 and C1 control characters, and the characters IoT Hub reserves in property names.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_KEY_CHARACTER = /[\u0000-\u001f\u0080-\u009f.$ ]/;

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
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TwinPatchError(400, 'The patch must be a JSON object.');
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
    if (source === null || typeof source === 'boolean') {
      assign(source);
    } else if (typeof source === 'number') {
      if (!Number.isFinite(source)) throw new TwinPatchError(400, 'Numbers must be finite.');
      assign(source);
    } else if (typeof source === 'string') {
      if (Buffer.byteLength(source, 'utf8') > TWIN_LIMITS.maxStringBytes) {
        throw new TwinPatchError(
          400,
          `A string value is longer than ${TWIN_LIMITS.maxStringBytes} bytes, the limit for twin property values.`,
        );
      }
      assign(source);
    } else if (typeof source === 'object') {
      if (depth + 1 > TWIN_LIMITS.maxNesting) {
        throw new TwinPatchError(
          400,
          `The patch nests objects more than ${TWIN_LIMITS.maxNesting} levels deep, the limit for twin properties.`,
        );
      }
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
    } else {
      throw new TwinPatchError(400, 'The patch holds a value JSON cannot express.');
    }
  }
  return result;
}

function checkKey(key: string): void {
  if (key === '') throw new TwinPatchError(400, 'Property names must not be empty.');
  if (Buffer.byteLength(key, 'utf8') > TWIN_LIMITS.maxKeyBytes) {
    throw new TwinPatchError(400, `A property name is longer than ${TWIN_LIMITS.maxKeyBytes} bytes.`);
  }
  if (FORBIDDEN_KEY_CHARACTER.test(key)) {
    throw new TwinPatchError(
      400,
      `The property name ${JSON.stringify(key.slice(0, 64))} holds a character IoT Hub does not allow in names ` +
        '(control characters, ".", "$" or a space).',
    );
  }
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
