import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { JsonFile, StateFileError } from '../../../devkit/json-file';
import type { CertificateAuthorities, CertificateAuthorityRecord } from './ca-store';

interface PersistedCertificateAuthorities {
  formatVersion: 1;
  certificates: CertificateAuthorityRecord[];
}

/**
 * Loads the hub's registered CAs from `<dataDir>/certificate-authorities.json` and keeps the file current: every
 * change is written atomically (JsonFile) before the caller's `persist()` resolves.
 */
export async function persistCertificateAuthorities(
  store: CertificateAuthorities,
  dataDir: string,
): Promise<JsonFile<PersistedCertificateAuthorities>> {
  const path = join(dataDir, 'certificate-authorities.json');
  const saved = await JsonFile.read<PersistedCertificateAuthorities>(
    path,
    'the CA certificates registered for X.509 devices',
  );
  try {
    store.restore(Array.isArray(saved?.certificates) ? saved.certificates : []);
  } catch (error) {
    throw new StateFileError(
      path,
      `${path} holds a CA certificate the emulator cannot read (${(error as Error).message}). Restore the file ` +
        'from a backup, or delete it and register the CAs again.',
    );
  }
  const file = new JsonFile<PersistedCertificateAuthorities>(path, () => ({
    formatVersion: 1,
    certificates: store.records(),
  }));
  store.persist = () => file.save();
  return file;
}

/**
 * Registers CA certificate files given at start (`--ca-certificate`), each under its file name without the
 * extension (`root-ca.pem` -> `root-ca`), replacing a registration of that name; persisted like any other.
 */
export async function registerCaFiles(
  store: CertificateAuthorities,
  paths: readonly string[],
): Promise<void> {
  for (const path of paths) {
    let pem: string;
    try {
      pem = await readFile(path, 'utf8');
    } catch (error) {
      throw new Error(`Cannot read the CA certificate ${path}: ${(error as Error).message}`);
    }
    const name = basename(path).replace(/\.(pem|crt|cer)$/i, '');
    try {
      store.put(name, pem, '*');
    } catch (error) {
      throw new Error(`Cannot register the CA certificate ${path}: ${(error as Error).message}`);
    }
  }
  if (paths.length > 0) await store.persist();
}
