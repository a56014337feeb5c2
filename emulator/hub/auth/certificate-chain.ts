import type { X509Certificate } from 'node:crypto';

/** Longest path from a device certificate to a registered CA (leaf, intermediates, CA) the emulator follows. */
const MAX_CHAIN_DEPTH = 8;

export type ChainVerdict =
  | { readonly ok: true; readonly authority: X509Certificate }
  | { readonly ok: false; readonly reason: string };

/** Whether `certificate` is within its validity period (notBefore..notAfter) at `nowMs`. */
export function isWithinValidity(certificate: X509Certificate, nowMs: number): boolean {
  return Date.parse(certificate.validFrom) <= nowMs && nowMs <= Date.parse(certificate.validTo);
}

/** The subject's common name (the last CN if there are several), or undefined. */
export function subjectCommonName(certificate: X509Certificate): string | undefined {
  // Node writes the subject one attribute per line, `CN=value`; a value with a newline would be escaped.
  const names = certificate.subject
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => line.slice(3));
  return names.at(-1);
}

/**
 * Verifies that `leaf` chains to one of `authorities` (the CAs registered with the hub), through the intermediates
 * the client sent if needed: each link's issuer name and signature checked, every certificate on the path within
 * its validity, and every issuer a CA (basic constraints). A registered CA presented as the device's own
 * certificate does not count: a device certificate is issued by a CA, it is not one.
 */
export function verifyChain(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  authorities: readonly X509Certificate[],
  nowMs: number,
): ChainVerdict {
  if (authorities.some((authority) => authority.fingerprint256 === leaf.fingerprint256)) {
    return { ok: false, reason: 'the certificate is a registered CA, not a device certificate' };
  }
  let current = leaf;
  const used = new Set<string>([leaf.fingerprint256]);
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (!isWithinValidity(current, nowMs)) {
      return {
        ok: false,
        reason: `certificate "${current.subject.replace(/\n/g, ', ')}" is expired or not yet valid`,
      };
    }
    const authority = authorities.find((candidate) => issued(candidate, current));
    if (authority) {
      if (!isWithinValidity(authority, nowMs)) return { ok: false, reason: 'the issuing CA is expired' };
      return { ok: true, authority };
    }
    const next = intermediates.find(
      (candidate) => !used.has(candidate.fingerprint256) && issued(candidate, current),
    );
    if (!next) return { ok: false, reason: 'the certificate does not chain to a CA registered with the hub' };
    used.add(next.fingerprint256);
    current = next;
  }
  return { ok: false, reason: 'the certificate chain is too long' };
}

/** Whether `issuer` is a CA whose name and key signed `subject`. */
function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return issuer.ca && subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}
