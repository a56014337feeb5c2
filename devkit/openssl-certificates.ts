import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Certificates made by the openssl command line (EC P-256, fast), so that the emulator's checks are tested against
 * a tool that is not the code under test, and the expected thumbprints come from `openssl x509 -fingerprint`.
 */
export class OpenSsl {
  private serial = 1;
  constructor(private readonly dir: string) {}

  private run(args: string[]): string {
    return execFileSync('openssl', args, {
      cwd: this.dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  private ext(name: string, lines: string[]): string {
    const path = join(this.dir, `${name}.ext`);
    writeFileSync(path, lines.join('\n'));
    return path;
  }

  /** A self-signed certificate; a CA unless `ca` is false. */
  selfSigned(name: string, subject: string, ca = true): string {
    this.run([
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '30',
      '-subj',
      subject,
      '-addext',
      ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=critical,CA:FALSE',
      ...(ca ? ['-addext', 'keyUsage=critical,keyCertSign,cRLSign'] : []),
    ]);
    return this.pem(name);
  }

  /** A certificate for `subject` signed by `issuer` (a name given to selfSigned or issued before). */
  issued(name: string, subject: string, issuer: string, ca: boolean): string {
    this.run([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subject,
    ]);
    const ext = this.ext(name, [
      ca ? 'basicConstraints=critical,CA:TRUE' : 'basicConstraints=critical,CA:FALSE',
      ca ? 'keyUsage=critical,keyCertSign,cRLSign' : 'extendedKeyUsage=clientAuth',
    ]);
    this.run([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${issuer}.pem`,
      '-CAkey',
      `${issuer}.key`,
      '-set_serial',
      String(this.serial++),
      '-days',
      '30',
      '-out',
      `${name}.pem`,
      '-extfile',
      ext,
    ]);
    return this.pem(name);
  }

  /** The private key (PEM) of a certificate made before. */
  key(name: string): string {
    return readFileSync(join(this.dir, `${name}.key`), 'utf8');
  }

  pem(name: string): string {
    return readFileSync(join(this.dir, `${name}.pem`), 'utf8');
  }

  /** `openssl x509 -fingerprint`: upper-case hex without colons. */
  fingerprint(name: string, digest: 'sha1' | 'sha256'): string {
    const line = this.run(['x509', '-in', `${name}.pem`, '-noout', '-fingerprint', `-${digest}`]);
    return line.trim().split('=')[1]?.replace(/:/g, '') ?? '';
  }
}
