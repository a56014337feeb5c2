import { jsonDepth } from './json-depth';

/**
 * IoT Hub's documented limits for direct methods and identities. Shared by the function's validation (so that a
 * bad request is refused before it costs a hub call) and by the emulator (which enforces them as the hub does).
 */
export const METHOD_PAYLOAD_MAX_BYTES = 128 * 1024;
/**
 * Deepest nesting of arrays and objects accepted in a method payload. IoT Hub documents none; its .NET stack reads
 * JSON with Json.NET, whose default MaxDepth is 64, so deeper payloads cannot be expected to work there either.
 */
export const METHOD_PAYLOAD_MAX_DEPTH = 64;
export const RESPONSE_TIMEOUT = { min: 5, max: 300, default: 30 } as const;
export const CONNECT_TIMEOUT = { min: 0, max: 300, default: 0 } as const;

const DEVICE_ID = /^[A-Za-z0-9\-.%_*?!(),:=@$']{1,128}$/;
/** Method names travel in an MQTT topic level, so no `/`, `+`, `#`, `?`, spaces or control characters. */
const METHOD_NAME = /^[\x21-\x7e]{1,128}$/;
const METHOD_NAME_FORBIDDEN = /[/+#?]/;

export const DEVICE_ID_RULE =
  "up to 128 ASCII letters, digits and the characters - . % _ * ? ! ( ) , : = @ $ '";
export const METHOD_NAME_RULE = 'up to 128 printable ASCII characters other than / + # ? and spaces';

export function isValidDeviceId(id: string): boolean {
  return DEVICE_ID.test(id);
}

export function isValidMethodName(name: string): boolean {
  return METHOD_NAME.test(name) && !METHOD_NAME_FORBIDDEN.test(name);
}

export interface SecondsRange {
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

/**
 * A timeout as IoT Hub reads it: absent or null means the default; otherwise a whole number of seconds in range.
 * Returns undefined for anything else, for the caller to refuse in its own error shape.
 */
export function readTimeoutSeconds(value: unknown, range: SecondsRange): number | undefined {
  if (value === undefined || value === null) return range.default;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max)
    return undefined;
  return value;
}

export function timeoutRule(field: string, range: SecondsRange): string {
  return `${field} must be a whole number of seconds from ${range.min} to ${range.max}.`;
}

/** Bytes of a payload as it travels (JSON text, UTF-8). Check its depth first (`methodPayloadProblem`). */
export function payloadBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload ?? null), 'utf8');
}

export interface PayloadProblem {
  readonly kind: 'too-deep' | 'too-large';
  readonly message: string;
}

/**
 * Why a direct-method payload (already parsed) cannot be sent, or undefined when it can: nested deeper than
 * METHOD_PAYLOAD_MAX_DEPTH, or larger than METHOD_PAYLOAD_MAX_BYTES as JSON. Never throws, whatever the input.
 */
export function methodPayloadProblem(payload: unknown): PayloadProblem | undefined {
  const depth = jsonDepth(payload, METHOD_PAYLOAD_MAX_DEPTH);
  if (depth > METHOD_PAYLOAD_MAX_DEPTH) {
    return {
      kind: 'too-deep',
      message: `The payload nests arrays and objects more than ${METHOD_PAYLOAD_MAX_DEPTH} levels deep; at most ${METHOD_PAYLOAD_MAX_DEPTH} are accepted.`,
    };
  }
  const bytes = payloadBytes(payload);
  if (bytes > METHOD_PAYLOAD_MAX_BYTES) {
    return {
      kind: 'too-large',
      message: `The payload is ${bytes} bytes as JSON; direct method payloads are limited to ${METHOD_PAYLOAD_MAX_BYTES} bytes (128 KB).`,
    };
  }
  return undefined;
}
