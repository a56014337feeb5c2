/**
 * IoT Hub's rules for the documents of a device twin (tags, desired and reported properties), from the device twins
 * documentation ("Tags and properties format", "Device twin size"). Shared by the twin functions (which refuse a bad
 * patch before it costs a hub call) and by the emulator (which enforces them as the hub does), so both apply one rule.
 */
export const TWIN_LIMITS = {
  /** Objects nest at most 10 levels below the section (`tags`, `properties.desired`, `properties.reported`). */
  maxNesting: 10,
  maxKeyBytes: 1024,
  maxStringBytes: 4 * 1024,
  /** Integers are limited to what a double holds exactly, as IoT Hub documents them: -2^52 .. 2^52 - 1. */
  minInteger: -4_503_599_627_370_496,
  maxInteger: 4_503_599_627_370_495,
  tagsBytes: 8 * 1024,
  propertiesBytes: 32 * 1024,
} as const;

// C0 and C1 control characters, and the characters IoT Hub reserves in property names.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_KEY_CHARACTER = /[\u0000-\u001f\u0080-\u009f.$ ]/;

/** Why a property name cannot be used in a twin, or undefined when it can. */
export function twinKeyProblem(key: string): string | undefined {
  if (key === '') return 'Property names must not be empty.';
  if (Buffer.byteLength(key, 'utf8') > TWIN_LIMITS.maxKeyBytes) {
    return `A property name is longer than ${TWIN_LIMITS.maxKeyBytes} bytes.`;
  }
  if (FORBIDDEN_KEY_CHARACTER.test(key)) {
    return (
      `The property name ${JSON.stringify(key.slice(0, 64))} holds a character IoT Hub does not allow in names ` +
      '(control characters, ".", "$" or a space).'
    );
  }
  return undefined;
}

/** Why a leaf value (string, number, boolean or null) cannot be stored in a twin, or undefined when it can. */
export function twinLeafProblem(value: unknown): string | undefined {
  if (value === null || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return 'Numbers must be finite.';
    if (Number.isInteger(value) && (value < TWIN_LIMITS.minInteger || value > TWIN_LIMITS.maxInteger)) {
      return `Integers must be from ${TWIN_LIMITS.minInteger} to ${TWIN_LIMITS.maxInteger}.`;
    }
    return undefined;
  }
  if (typeof value === 'string') {
    return Buffer.byteLength(value, 'utf8') > TWIN_LIMITS.maxStringBytes
      ? `A string value is longer than ${TWIN_LIMITS.maxStringBytes} bytes, the limit for twin property values.`
      : undefined;
  }
  return 'The value is not one JSON can express.';
}

export const NESTING_PROBLEM = `Objects nest more than ${TWIN_LIMITS.maxNesting} levels deep, the limit for twin properties.`;

export interface TwinDocumentProblem {
  /** Where, as a dotted path from the document (`config.level`), empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/**
 * Why a parsed JSON value cannot be a twin patch (a JSON object whose names, values and nesting follow IoT Hub's
 * rules), or undefined when it can. Walks with an explicit stack and stops at the first problem, so its cost is
 * bounded by the size of the value, never by its depth. Sizes are not checked here: they depend on the document the
 * patch merges into.
 */
export function twinPatchProblem(value: unknown): TwinDocumentProblem | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { path: '', message: 'A twin patch must be a JSON object.' };
  }
  const stack: { readonly value: unknown; readonly depth: number; readonly path: string }[] = [];
  const pushChildren = (container: object, depth: number, path: string): TwinDocumentProblem | undefined => {
    const isArray = Array.isArray(container);
    for (const [key, child] of Object.entries(container)) {
      if (!isArray) {
        const keyProblem = twinKeyProblem(key);
        if (keyProblem) return { path, message: keyProblem };
      }
      stack.push({ value: child, depth, path: isArray ? `${path}[${key}]` : path ? `${path}.${key}` : key });
    }
    return undefined;
  };
  const first = pushChildren(value, 0, '');
  if (first) return first;
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value === 'object' && item.value !== null) {
      if (item.depth + 1 > TWIN_LIMITS.maxNesting) return { path: item.path, message: NESTING_PROBLEM };
      const problem = pushChildren(item.value, item.depth + 1, item.path);
      if (problem) return problem;
    } else {
      const message = twinLeafProblem(item.value);
      if (message) return { path: item.path, message };
    }
  }
  return undefined;
}
