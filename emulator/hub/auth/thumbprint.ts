import type { X509Certificate } from 'node:crypto';

/**
 * IoT Hub's thumbprint format: the SHA-1 (40 hex digits) or SHA-256 (64 hex digits) digest of the certificate's DER
 * encoding, without separators, in either case.
 */
const THUMBPRINT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/i;

export function isValidThumbprint(value: string): boolean {
  return THUMBPRINT.test(value);
}

/** The certificate's SHA-1 and SHA-256 thumbprints, upper-case hex without separators. */
export function thumbprintsOf(certificate: X509Certificate): { sha1: string; sha256: string } {
  return {
    sha1: certificate.fingerprint.replace(/:/g, '').toUpperCase(),
    sha256: certificate.fingerprint256.replace(/:/g, '').toUpperCase(),
  };
}

/** Whether one of `registered` (thumbprints as stored, any case) is the certificate's SHA-1 or SHA-256 digest. */
export function matchesThumbprint(
  certificate: X509Certificate,
  registered: readonly (string | null | undefined)[],
): boolean {
  const { sha1, sha256 } = thumbprintsOf(certificate);
  return registered.some((value) => {
    const upper = value?.toUpperCase();
    return upper !== undefined && upper !== '' && (upper === sha1 || upper === sha256);
  });
}
