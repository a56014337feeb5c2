import { createHmac, timingSafeEqual } from 'node:crypto';

/** A parsed `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]` token. Values stay as sent (URL-encoded). */
export interface SasToken {
  /** The resource URI exactly as it appears in the token (still URL-encoded). */
  readonly rawResource: string;
  /** The decoded resource URI, e.g. `myhub.azure-devices.net/devices/dev1`. */
  readonly resource: string;
  readonly signature: string;
  readonly expiry: number;
  readonly keyName: string | undefined;
}

export type SasFailure = 'malformed' | 'expired' | 'bad-signature';

const PREFIX = 'SharedAccessSignature ';

/** Parses a SAS token; returns undefined when it is not one (missing parts, non-numeric expiry). */
export function parseSasToken(token: string): SasToken | undefined {
  if (!token.startsWith(PREFIX)) return undefined;
  const fields = new Map<string, string>();
  for (const part of token.slice(PREFIX.length).trim().split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return undefined;
    fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const rawResource = fields.get('sr');
  const rawSignature = fields.get('sig');
  const se = fields.get('se');
  if (!rawResource || !rawSignature || !se || !/^\d+$/.test(se)) return undefined;
  try {
    const skn = fields.get('skn');
    return {
      rawResource,
      resource: decodeURIComponent(rawResource),
      signature: decodeURIComponent(rawSignature),
      expiry: Number(se),
      keyName: skn === undefined ? undefined : decodeURIComponent(skn),
    };
  } catch {
    return undefined; // malformed percent-encoding
  }
}

/**
 * How a signing key string becomes HMAC key bytes. IoT Hub (devices, service REST) uses the base64-decoded key;
 * the Event Hub-compatible endpoint, like Event Hubs itself, uses the UTF-8 bytes of the key string as written.
 */
export type SasKeyEncoding = 'base64' | 'utf8';

/**
 * Signatures already verified, by what was signed and the signature: a client sends the same token on every call
 * until it renews it (the SDKs sign one for an hour), so the HMAC need not be computed again for each call (it was
 * about 7 % of the emulator's CPU on the REST path). An entry remembers which key verified it and counts only while
 * that key is still one of the identity's keys, so a rotated or removed key refuses the token at once; expiry is
 * checked on every call before the cache is read. Bounded: the oldest entries go first.
 */
const VERIFIED_CAPACITY = 4096;
const verified = new Map<string, string>();

function rememberVerified(entry: string, key: string): void {
  if (verified.size >= VERIFIED_CAPACITY) {
    const oldest = verified.keys().next();
    if (!oldest.done) verified.delete(oldest.value);
  }
  verified.set(entry, key);
}

/**
 * Checks expiry and signature. Both services sign `sr` exactly as it appears in the token (URL-encoded), a
 * newline and `se`; they differ only in the key bytes (see `SasKeyEncoding`).
 */
export function verifySasToken(
  token: SasToken,
  keys: readonly string[],
  nowMs = Date.now(),
  keyEncoding: SasKeyEncoding = 'base64',
): SasFailure | undefined {
  if (token.expiry * 1000 <= nowMs) return 'expired';
  const stringToSign = `${token.rawResource}\n${token.expiry}`;
  const entry = `${keyEncoding}\n${token.signature}\n${stringToSign}`;
  const known = verified.get(entry);
  if (known !== undefined && keys.includes(known)) return undefined;
  const presented = Buffer.from(token.signature, 'base64');
  for (const key of keys) {
    const expected = createHmac('sha256', Buffer.from(key, keyEncoding)).update(stringToSign).digest();
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) {
      rememberVerified(entry, key);
      return undefined;
    }
  }
  return 'bad-signature';
}

/** Builds a token the way the SDKs do; used for tests, tools and printed examples. */
export function createSasToken(
  resource: string,
  key: string,
  expiry: number,
  keyName?: string,
  keyEncoding: SasKeyEncoding = 'base64',
): string {
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', Buffer.from(key, keyEncoding)).update(`${sr}\n${expiry}`).digest('base64');
  const skn = keyName === undefined ? '' : `&skn=${encodeURIComponent(keyName)}`;
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}${skn}`;
}
