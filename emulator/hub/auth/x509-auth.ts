import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { authenticationTypeOf, type DeviceRegistry } from '../registry';
import { isWithinValidity, subjectCommonName, verifyChain } from './certificate-chain';
import type { DeviceAuthResult } from './device-auth';
import { matchesThumbprint } from './thumbprint';

/** The client certificate a device presented in the TLS handshake, and the intermediates it sent with it. */
export interface PresentedCertificate {
  readonly leaf: X509Certificate;
  readonly intermediates: readonly X509Certificate[];
}

export interface X509AuthContext {
  /** The registry, with the CA certificates registered with the hub. */
  readonly registry: DeviceRegistry;
}

/**
 * Checks an X.509 device's client certificate as IoT Hub does. `selfSigned`: the certificate is within its
 * validity and its SHA-1 or SHA-256 thumbprint is the device's primary or secondary thumbprint (the hub checks
 * nothing else for thumbprint authentication). `certificateAuthority`: the subject CN is the device id and the
 * certificate chains, through the intermediates the device sent, to a CA registered with the hub, every
 * certificate on the way within its validity. Refusals are the SAS path's: no certificate is `bad-credentials`
 * (MQTT CONNACK 4), a certificate that does not prove the identity is `not-authorized` (CONNACK 5).
 */
export function authenticateDeviceCertificate(
  context: X509AuthContext,
  deviceId: string,
  presented: PresentedCertificate | undefined,
  nowMs = Date.now(),
): DeviceAuthResult {
  const device = context.registry.find(deviceId);
  if (!device) return { ok: false, failure: 'not-authorized', reason: 'device is not registered' };
  if (device.status !== 'enabled')
    return { ok: false, failure: 'not-authorized', reason: 'device is disabled' };
  const type = authenticationTypeOf(device);
  // A SAS device offered a certificate but no token: the same refusal as a missing token.
  if (type === 'sas') return { ok: false, failure: 'bad-credentials', reason: 'no SAS token' };
  if (!presented) return { ok: false, failure: 'bad-credentials', reason: 'no client certificate' };
  const { leaf } = presented;
  const refuse = (reason: string): DeviceAuthResult => ({ ok: false, failure: 'not-authorized', reason });
  if (type === 'selfSigned') {
    if (!isWithinValidity(leaf, nowMs)) return refuse('client certificate is expired or not yet valid');
    if (!matchesThumbprint(leaf, [device.primaryThumbprint, device.secondaryThumbprint])) {
      return refuse('client certificate thumbprint matches neither registered thumbprint');
    }
  } else {
    if (subjectCommonName(leaf) !== deviceId)
      return refuse('client certificate subject CN is not the device id');
    const verdict = verifyChain(
      leaf,
      presented.intermediates,
      context.registry.certificateAuthorities.certificates(),
      nowMs,
    );
    if (!verdict.ok) return refuse(verdict.reason);
  }
  // The session lasts while the certificate is valid: the hub closes it then, as it does at a token's expiry.
  return { ok: true, session: { device, expiry: Math.floor(Date.parse(leaf.validTo) / 1000) } };
}

/**
 * The client certificate of a TLS connection and the rest of the chain the client sent, or undefined when it sent
 * none. The fronts ask for a certificate without requiring one (`requestCert`, not `rejectUnauthorized`), so
 * Node's own verdict (`authorized`) is ignored: the hub's rules decide.
 */
export function presentedCertificateOf(socket: TLSSocket | undefined): PresentedCertificate | undefined {
  const peer = socket?.getPeerCertificate(true);
  if (!peer?.raw) return undefined;
  const leaf = new X509Certificate(peer.raw);
  const intermediates: X509Certificate[] = [];
  const seen = new Set<string>([peer.fingerprint256]);
  let next = peer.issuerCertificate as typeof peer | undefined;
  // Node links each certificate to its issuer among those the client sent, a self-signed one to itself.
  while (next?.raw && !seen.has(next.fingerprint256) && intermediates.length < 8) {
    seen.add(next.fingerprint256);
    intermediates.push(new X509Certificate(next.raw));
    next = next.issuerCertificate;
  }
  return { leaf, intermediates };
}
