import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCA, createCert } from 'mkcert';
import { writeFileAtomic } from '../devkit/json-file';

export interface TlsMaterial {
  /** Path of the CA certificate users trust (NODE_EXTRA_CA_CERTS or the SDK's `ca` option). */
  readonly caPath: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const LOCAL_NAMES = ['localhost', '127.0.0.1', '::1'];
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/**
 * Loads the emulator's CA and server certificate from `<dataDir>/certs`, or creates them on first start
 * (and again when the server certificate is about to expire or lacks a name it must carry). The CA is kept so
 * that users trust it once. The server certificate names the local host and the hub's Azure-shaped host name
 * (`<hub>.azure-devices.net`), so that clients given an Azure-shaped connection string and a hosts entry pass the
 * TLS check too.
 */
export async function loadOrCreateTlsMaterial(dataDir: string, hubHostName?: string): Promise<TlsMaterial> {
  const serverNames = hubHostName ? [...LOCAL_NAMES, hubHostName.toLowerCase()] : LOCAL_NAMES;
  const dir = join(dataDir, 'certs');
  const paths = {
    ca: join(dir, 'ca.pem'),
    caKey: join(dir, 'ca-key.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server-key.pem'),
  };
  await mkdir(dir, { recursive: true });
  let ca = await readOptional(paths.ca);
  let caKey = await readOptional(paths.caKey);
  let newCa = false;
  if (!ca || !caKey || expiresSoon(ca) || !keyMatches(ca, caKey)) {
    const created = await createCA({
      organization: 'Local IoT Hub emulator CA',
      countryCode: 'US',
      state: 'Local',
      locality: 'Local',
      validity: 3650,
    });
    ca = created.cert;
    caKey = created.key;
    newCa = true;
    // Each file is written whole or not at all (a kill leaves the old one); the key first, so that a certificate
    // on disk always has its key.
    await writeFileAtomic(paths.caKey, caKey, 0o600);
    await writeFileAtomic(paths.ca, ca, 0o644);
  }
  let cert = await readOptional(paths.cert);
  let key = await readOptional(paths.key);
  // A kill between two writes can leave a key without its certificate: such a pair is made again.
  if (
    newCa ||
    !cert ||
    !key ||
    expiresSoon(cert) ||
    !signedBy(cert, ca) ||
    !keyMatches(cert, key) ||
    !namesAll(cert, serverNames)
  ) {
    const created = await createCert({ ca: { cert: ca, key: caKey }, domains: serverNames, validity: 825 });
    cert = created.cert;
    key = created.key;
    await writeFileAtomic(paths.key, key, 0o600);
    await writeFileAtomic(paths.cert, cert, 0o644);
  }
  return { caPath: paths.ca, ca, cert, key };
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    return text.trim() === '' ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Also true for a certificate that cannot be read: it is made again. */
function expiresSoon(pem: string): boolean {
  try {
    return Date.parse(new X509Certificate(pem).validTo) - Date.now() < RENEW_BEFORE_MS;
  } catch {
    return true;
  }
}

function signedBy(certPem: string, caPem: string): boolean {
  try {
    return new X509Certificate(certPem).checkIssued(new X509Certificate(caPem));
  } catch {
    return false;
  }
}

/** Whether the certificate is valid for every one of `names` (host names or IP addresses). */
function namesAll(certPem: string, names: readonly string[]): boolean {
  try {
    const certificate = new X509Certificate(certPem);
    return names.every((name) =>
      isIpAddress(name) ? certificate.checkIP(name) !== undefined : certificate.checkHost(name) !== undefined,
    );
  } catch {
    return false;
  }
}

function isIpAddress(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':');
}

/** Whether the private key belongs to the certificate. */
function keyMatches(certPem: string, keyPem: string): boolean {
  try {
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
    return fromKey.equals(fromCert);
  } catch {
    return false;
  }
}

/** A device certificate the emulator issued, with its key and thumbprints (as `x509Thumbprint` takes them). */
export interface DeviceCertificate {
  readonly deviceId: string;
  /** PEM; for `ca-signed`, the device certificate only (the CA is registered with the hub, not sent). */
  readonly cert: string;
  readonly key: string;
  /** SHA-1 and SHA-256 of the certificate, upper-case hex without separators. */
  readonly thumbprint: string;
  readonly thumbprint256: string;
}

/**
 * How a device certificate is made: `self-signed` (its own issuer, for a `selfSigned` device registered by
 * thumbprint) or `ca-signed` (issued by the emulator's CA, subject CN = device id, for a `certificateAuthority`
 * device).
 */
export type DeviceCertificateStyle = 'self-signed' | 'ca-signed';

export interface DeviceCertificateRequest {
  readonly deviceId: string;
  readonly style: DeviceCertificateStyle;
  /** Days from now (default 365); 0 or less makes a certificate that is already expired, for tests. */
  readonly validityDays?: number;
}

/**
 * Issues a device certificate for local use with mkcert. A `self-signed` one is mkcert's self-signed certificate
 * (mkcert makes those as CAs: IoT Hub checks only the thumbprint of a `selfSigned` device); a `ca-signed` one is a
 * client and server certificate from `ca` (the emulator's, from loadOrCreateTlsMaterial's folder).
 */
export async function issueDeviceCertificate(
  request: DeviceCertificateRequest,
  ca: { readonly cert: string; readonly key: string },
): Promise<DeviceCertificate> {
  const validity = request.validityDays ?? 365;
  const created =
    request.style === 'self-signed'
      ? await createCA({
          organization: request.deviceId,
          countryCode: 'US',
          state: 'Local',
          locality: 'Local',
          validity,
        })
      : await createCert({
          ca: { cert: ca.cert, key: ca.key },
          domains: [request.deviceId],
          organization: 'Local IoT Hub emulator device',
          validity,
        });
  const certificate = new X509Certificate(created.cert);
  return {
    deviceId: request.deviceId,
    cert: created.cert,
    key: created.key,
    thumbprint: certificate.fingerprint.replace(/:/g, ''),
    thumbprint256: certificate.fingerprint256.replace(/:/g, ''),
  };
}

/** The emulator's CA certificate and key (loadOrCreateTlsMaterial made them), to issue device certificates with. */
export async function readEmulatorCa(dataDir: string): Promise<{ cert: string; key: string }> {
  const dir = join(dataDir, 'certs');
  const [cert, key] = await Promise.all([
    readFile(join(dir, 'ca.pem'), 'utf8'),
    readFile(join(dir, 'ca-key.pem'), 'utf8'),
  ]);
  return { cert, key };
}

/** Where `--x509-device <id>` writes a device's certificate and key. */
export function deviceCertificatePaths(dataDir: string, deviceId: string): { cert: string; key: string } {
  const dir = join(dataDir, 'devices');
  const file = encodeURIComponent(deviceId);
  return { cert: join(dir, `${file}.pem`), key: join(dir, `${file}-key.pem`) };
}

/**
 * Makes sure `<dataDir>/devices/<id>.pem` and `-key.pem` hold a current certificate from `ca` for the device
 * (issued again when missing, about to expire, from another CA or not matching its key). The key is written
 * first and private to the user.
 */
export async function ensureDeviceCertificateFiles(
  dataDir: string,
  deviceId: string,
  ca: { readonly cert: string; readonly key: string },
): Promise<{ cert: string; key: string }> {
  const paths = deviceCertificatePaths(dataDir, deviceId);
  const cert = await readOptional(paths.cert);
  const key = await readOptional(paths.key);
  if (cert && key && !expiresSoon(cert) && signedBy(cert, ca.cert) && keyMatches(cert, key)) return paths;
  const issued = await issueDeviceCertificate({ deviceId, style: 'ca-signed' }, ca);
  await writeFileAtomic(paths.key, issued.key, 0o600);
  await writeFileAtomic(paths.cert, issued.cert, 0o644);
  return paths;
}
