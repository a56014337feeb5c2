import { EventEmitter } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { hubErrors } from '../errors';
import { thumbprintsOf } from './thumbprint';

/**
 * A CA certificate registered with the hub, as IoT Hub's certificate resource describes it (`CertificateProperties`
 * of the ARM API: subject, expiry, thumbprint, isVerified, created, updated, certificate). In the emulator a CA is
 * verified when registered: registering it is the proof of possession.
 */
export interface CertificateAuthorityRecord {
  readonly name: string;
  /** PEM. */
  readonly certificate: string;
  readonly version: number;
  readonly created: string;
  readonly updated: string;
}

/** `GET /certificates/{name}` in ARM's shape (`CertificateDescription`). */
export interface CertificateAuthorityDescription {
  readonly name: string;
  readonly etag: string;
  readonly type: 'Microsoft.Devices/IotHubs/Certificates';
  readonly properties: {
    readonly subject: string;
    readonly expiry: string;
    /** SHA-1, upper-case hex, as ARM's `thumbprint`. */
    readonly thumbprint: string;
    readonly isVerified: true;
    readonly created: string;
    readonly updated: string;
    readonly certificate: string;
  };
}

interface Entry {
  readonly record: CertificateAuthorityRecord;
  readonly certificate: X509Certificate;
}

/** ARM's rule for certificate names. */
const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The CA certificates device certificates of `certificateAuthority` devices must chain to. In IoT Hub they are
 * uploaded and verified through ARM; the emulator registers them through its own REST route or CLI flag.
 */
export class CertificateAuthorities extends EventEmitter<{ changed: [] }> {
  private readonly byName = new Map<string, Entry>();
  /** The emulator's own CA, trusted without registration (not persisted, not replaceable). */
  private builtIn: Entry | undefined;
  /** Makes changes durable; set by whoever persists the store (the emulator), resolved at once otherwise. */
  persist: () => Promise<void> = () => Promise.resolve();

  /** Restores persisted records; throws on a record that cannot be read (the caller names the file). */
  restore(records: readonly CertificateAuthorityRecord[]): void {
    for (const record of records) {
      this.byName.set(record.name, { record, certificate: parseCaCertificate(record.certificate) });
    }
  }

  /**
   * Trusts the emulator's own CA (the one that signs its server certificate and the device certificates it issues)
   * under `name`, so that those device certificates work without a registration step.
   */
  trustBuiltIn(name: string, pem: string): void {
    const created = new Date().toISOString();
    this.builtIn = {
      record: { name, certificate: pem, version: 1, created, updated: created },
      certificate: parseCaCertificate(pem),
    };
    this.byName.delete(name);
  }

  records(): CertificateAuthorityRecord[] {
    return [...this.byName.values()].map((entry) => entry.record);
  }

  /** The parsed CA certificates, for chain checks. */
  certificates(): X509Certificate[] {
    return this.entries().map((entry) => entry.certificate);
  }

  get(name: string): CertificateAuthorityDescription {
    const entry = this.entries().find((candidate) => candidate.record.name === name);
    if (!entry) throw hubErrors.notFound(`Certificate ${JSON.stringify(name.slice(0, 64))} not found.`);
    return describe(entry);
  }

  list(): CertificateAuthorityDescription[] {
    return this.entries().map(describe);
  }

  private entries(): Entry[] {
    return [...(this.builtIn ? [this.builtIn] : []), ...this.byName.values()];
  }

  /** Registers (or replaces, with a matching `ifMatch`) a CA certificate given in PEM. */
  put(
    name: string,
    pem: unknown,
    ifMatch?: string,
  ): { description: CertificateAuthorityDescription; created: boolean } {
    if (!NAME.test(name)) {
      throw hubErrors.argumentInvalid('A certificate name has 1 to 64 letters, digits, ".", "_" or "-".');
    }
    if (name === this.builtIn?.record.name) throw builtInError(name);
    if (typeof pem !== 'string')
      throw hubErrors.argumentInvalid('properties.certificate must be a PEM string.');
    const certificate = parseCaCertificate(pem);
    const existing = this.byName.get(name);
    if (existing && ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etagOf(existing.record)) {
      throw hubErrors.preconditionFailed("The etag does not match the certificate's current etag.");
    }
    const now = new Date().toISOString();
    const record: CertificateAuthorityRecord = {
      name,
      certificate: certificate.toString(),
      version: (existing?.record.version ?? 0) + 1,
      created: existing?.record.created ?? now,
      updated: now,
    };
    const entry = { record, certificate };
    this.byName.set(name, entry);
    this.emit('changed');
    return { description: describe(entry), created: !existing };
  }

  delete(name: string): void {
    if (name === this.builtIn?.record.name) throw builtInError(name);
    if (!this.byName.delete(name)) {
      throw hubErrors.notFound(`Certificate ${JSON.stringify(name.slice(0, 64))} not found.`);
    }
    this.emit('changed');
  }
}

function builtInError(name: string) {
  return hubErrors.argumentInvalid(
    `Certificate ${JSON.stringify(name)} is the emulator's own CA: it is always trusted and cannot be changed.`,
  );
}

/** A PEM certificate that is a CA (basic constraints CA:TRUE); 400 otherwise. */
function parseCaCertificate(pem: string): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw hubErrors.argumentInvalid('The certificate is not a PEM-encoded X.509 certificate.');
  }
  if (!certificate.ca) {
    throw hubErrors.argumentInvalid('The certificate is not a CA certificate (basic constraints CA:TRUE).');
  }
  return certificate;
}

function etagOf(record: CertificateAuthorityRecord): string {
  return Buffer.from(`${record.name}:${record.version}`).toString('base64');
}

function describe({ record, certificate }: Entry): CertificateAuthorityDescription {
  return {
    name: record.name,
    etag: etagOf(record),
    type: 'Microsoft.Devices/IotHubs/Certificates',
    properties: {
      subject: certificate.subject.replace(/\n/g, ', '),
      expiry: new Date(certificate.validTo).toUTCString(),
      thumbprint: thumbprintsOf(certificate).sha1,
      isVerified: true,
      created: new Date(record.created).toUTCString(),
      updated: new Date(record.updated).toUTCString(),
      certificate: record.certificate,
    },
  };
}
