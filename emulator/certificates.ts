import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCA, createCert } from 'mkcert';

export interface TlsMaterial {
  /** Path of the CA certificate users trust (NODE_EXTRA_CA_CERTS or the SDK's `ca` option). */
  readonly caPath: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const SERVER_NAMES = ['localhost', '127.0.0.1', '::1'];
const RENEW_BEFORE_MS = 7 * 24 * 3600 * 1000;

/**
 * Loads the emulator's CA and server certificate from `<dataDir>/certs`, or creates them on first start
 * (and again when the server certificate is about to expire). The CA is kept so that users trust it once.
 */
export async function loadOrCreateTlsMaterial(dataDir: string): Promise<TlsMaterial> {
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
  if (!ca || !caKey || expiresSoon(ca)) {
    const created = await createCA({
      organization: 'Local IoT Hub emulator CA',
      countryCode: 'US',
      state: 'Local',
      locality: 'Local',
      validity: 3650,
    });
    ca = created.cert;
    caKey = created.key;
    await writeFile(paths.caKey, caKey, { mode: 0o600 });
    await writeFile(paths.ca, ca);
    await writeFile(paths.cert, ''); // force a new server certificate signed by the new CA
  }
  let cert = await readOptional(paths.cert);
  let key = await readOptional(paths.key);
  if (!cert || !key || expiresSoon(cert) || !signedBy(cert, ca)) {
    const created = await createCert({ ca: { cert: ca, key: caKey }, domains: SERVER_NAMES, validity: 825 });
    cert = created.cert;
    key = created.key;
    await writeFile(paths.key, key, { mode: 0o600 });
    await writeFile(paths.cert, cert);
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

function expiresSoon(pem: string): boolean {
  return Date.parse(new X509Certificate(pem).validTo) - Date.now() < RENEW_BEFORE_MS;
}

function signedBy(certPem: string, caPem: string): boolean {
  return new X509Certificate(certPem).checkIssued(new X509Certificate(caPem));
}
