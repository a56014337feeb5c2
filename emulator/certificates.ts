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
