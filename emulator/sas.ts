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
 * Checks expiry and signature. IoT Hub signs `sr` exactly as it appears in the token, a newline and `se`,
 * with the base64-decoded key (device keys and shared access policy keys alike).
 */
export function verifySasToken(
  token: SasToken,
  base64Keys: readonly string[],
  nowMs = Date.now(),
): SasFailure | undefined {
  if (token.expiry * 1000 <= nowMs) return 'expired';
  const presented = Buffer.from(token.signature, 'base64');
  const stringToSign = `${token.rawResource}\n${token.expiry}`;
  for (const key of base64Keys) {
    const expected = createHmac('sha256', Buffer.from(key, 'base64')).update(stringToSign).digest();
    if (expected.length === presented.length && timingSafeEqual(expected, presented)) return undefined;
  }
  return 'bad-signature';
}

/** Builds a token the way the SDKs do; used for tests, tools and printed examples. */
export function createSasToken(
  resource: string,
  base64Key: string,
  expiry: number,
  keyName?: string,
): string {
  const sr = encodeURIComponent(resource);
  const sig = createHmac('sha256', Buffer.from(base64Key, 'base64'))
    .update(`${sr}\n${expiry}`)
    .digest('base64');
  const skn = keyName === undefined ? '' : `&skn=${encodeURIComponent(keyName)}`;
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sig)}&se=${expiry}${skn}`;
}
