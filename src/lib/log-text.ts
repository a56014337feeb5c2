import { redactSecrets } from './redact';

/** Characters of escaped text in a preview; long enough to recognise a body, short enough for one log line. */
export const PREVIEW_MAX_CHARS = 80;

/**
 * Text safe for one log line: secrets redacted, then escaped as inside a JSON string literal, including the
 * characters JSON leaves alone but terminals and log viewers act on (C1 controls, line separators, bidi overrides).
 * Cut at `maxChars` characters of escaped text, never inside an escape, with `…` when cut.
 */
export function safePreview(text: string, maxChars: number = PREVIEW_MAX_CHARS): string {
  // Only the start is shown; redacting a bounded slice keeps huge bodies cheap. The slice is longer than the
  // preview so that a secret cut at its end is still recognised (and redacted) whole.
  const slice = text.slice(0, maxChars * 2 + 64);
  let out = '';
  for (const char of redactSecrets(slice)) {
    const escaped = escapeChar(char);
    if (out.length + escaped.length > maxChars) return `${out}…`;
    out += escaped;
  }
  return slice.length < text.length ? `${out}…` : out;
}

/** Escaped as `safePreview` does, without the length limit, for values that are short by nature (ids). */
export function escapeForLog(text: string): string {
  let out = '';
  for (const char of text) out += escapeChar(char);
  return out;
}

/**
 * JSON of a flat record (application properties) for a log line: string keys and values redacted, and the
 * characters JSON leaves alone (C1 controls, line separators, bidi overrides) escaped as \uXXXX, which keeps it
 * valid JSON because they can only occur inside strings. Cut with `…` beyond `maxChars`.
 */
export function jsonForLog(record: Readonly<Record<string, unknown>>, maxChars: number): string {
  let json: string;
  try {
    const redacted = Object.entries(record).map(([key, value]) => [
      redactSecrets(key),
      typeof value === 'string' ? redactSecrets(value) : value,
    ]);
    json = JSON.stringify(Object.fromEntries(redacted));
  } catch {
    return '"(not serializable)"';
  }
  let out = '';
  for (const char of json) {
    out += unsafeEscape(char) ?? char;
    if (out.length > maxChars) return `${out.slice(0, maxChars)}…`;
  }
  return out;
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * Code points escaped as \uXXXX: C0 and C1 controls, soft hyphen and other invisible characters, line and paragraph
 * separators, direction overrides, byte order mark, interlinear annotations and lone surrogates (a `for...of` over
 * a string yields those alone only when they are unpaired).
 */
const UNSAFE_RANGES: readonly (readonly [number, number])[] = [
  [0x00, 0x1f],
  [0x7f, 0x9f],
  [0xad, 0xad],
  [0x61c, 0x61c],
  [0x180e, 0x180e],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x206f],
  [0xd800, 0xdfff],
  [0xfeff, 0xfeff],
  [0xfff9, 0xfffb],
];

function escapeChar(char: string): string {
  return SIMPLE_ESCAPES[char] ?? unsafeEscape(char) ?? char;
}

function unsafeEscape(char: string): string | undefined {
  const code = char.codePointAt(0) ?? 0;
  return UNSAFE_RANGES.some(([low, high]) => code >= low && code <= high)
    ? `\\u${code.toString(16).padStart(4, '0')}`
    : undefined;
}
