import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createCA, createCert } from 'mkcert';
import { isWithinValidity, subjectCommonName, verifyChain } from '../../../../hub/auth/certificate-chain';
import { CertificateAuthorities } from '../../../../hub/auth/ca-store';
import { readAuthentication } from '../../../../hub/auth/identity-authentication';
import { isValidThumbprint, matchesThumbprint, thumbprintsOf } from '../../../../hub/auth/thumbprint';
import { authenticateDeviceCertificate } from '../../../../hub/auth/x509-auth';
import { HubError } from '../../../../hub/errors';
import { DeviceRegistry } from '../../../../hub/registry';
import { OpenSsl } from '../../../../../devkit/openssl-certificates';
import { thrownBy } from '../../../../../devkit/thrown-by';

const x509 = (pem: string) => new X509Certificate(pem);

describe('X.509 checks (certificates from openssl and mkcert)', () => {
  const temp = mkdtempSync(join(tmpdir(), 'x509-unit-'));
  const ssl = new OpenSsl(temp);
  let root: string;
  let intermediate: string;
  let leaf: string;
  let directLeaf: string;
  let notCa: string;
  let signedByNotCa: string;
  let otherRoot: string;
  let selfSignedDevice: string;

  beforeAll(() => {
    root = ssl.selfSigned('root', '/CN=Test Root CA');
    intermediate = ssl.issued('intermediate', '/CN=Test Intermediate CA', 'root', true);
    leaf = ssl.issued('leaf', '/O=Devices/CN=device-1', 'intermediate', false);
    directLeaf = ssl.issued('direct', '/CN=device-2', 'root', false);
    notCa = ssl.issued('not-ca', '/CN=Not a CA', 'root', false);
    signedByNotCa = ssl.issued('by-not-ca', '/CN=device-3', 'not-ca', false);
    otherRoot = ssl.selfSigned('other-root', '/CN=Other Root CA');
    selfSignedDevice = ssl.selfSigned('self', '/CN=self-device', false);
  });

  afterAll(() => {
    rmSync(temp, { recursive: true, force: true });
  });

  describe('thumbprints', () => {
    it("computes SHA-1 and SHA-256 thumbprints as openssl's -fingerprint does", () => {
      expect(thumbprintsOf(x509(leaf))).toEqual({
        sha1: ssl.fingerprint('leaf', 'sha1'),
        sha256: ssl.fingerprint('leaf', 'sha256'),
      });
    });

    it('matches a registered SHA-1 or SHA-256 thumbprint in either case, primary or secondary', () => {
      const sha1 = ssl.fingerprint('self', 'sha1');
      const sha256 = ssl.fingerprint('self', 'sha256');
      expect(matchesThumbprint(x509(selfSignedDevice), [sha1.toLowerCase(), null])).toBe(true);
      expect(matchesThumbprint(x509(selfSignedDevice), [null, sha256])).toBe(true);
      expect(matchesThumbprint(x509(selfSignedDevice), [ssl.fingerprint('leaf', 'sha1'), null])).toBe(false);
      expect(matchesThumbprint(x509(selfSignedDevice), [null, undefined, ''])).toBe(false);
    });

    it.each([
      ['40 hex digits', 'a'.repeat(40), true],
      ['64 hex digits', 'F'.repeat(64), true],
      ['39 hex digits', 'a'.repeat(39), false],
      ['with colons', 'AB:'.repeat(19) + 'AB', false],
      ['not hex', 'g'.repeat(40), false],
    ])('takes a thumbprint of %s: %s', (_label, value, valid) => {
      expect(isValidThumbprint(value)).toBe(valid);
    });
  });

  describe('chains', () => {
    // Read after the certificates exist: openssl dates them to the second, a test may not run before them.
    let now = 0;
    beforeAll(() => {
      now = Date.now();
    });

    it('verifies a leaf through the intermediate it sent to a registered root', () => {
      const verdict = verifyChain(x509(leaf), [x509(intermediate)], [x509(root)], now);
      expect(verdict).toMatchObject({ ok: true });
      expect(verdict.ok && verdict.authority.fingerprint256).toBe(x509(root).fingerprint256);
    });

    it('verifies a leaf whose intermediate is itself the registered CA', () => {
      expect(verifyChain(x509(leaf), [], [x509(intermediate)], now)).toMatchObject({ ok: true });
    });

    it('verifies a leaf signed by the registered root directly', () => {
      expect(verifyChain(x509(directLeaf), [], [x509(root)], now)).toMatchObject({ ok: true });
    });

    it('refuses a leaf whose intermediate is missing', () => {
      expect(verifyChain(x509(leaf), [], [x509(root)], now)).toMatchObject({ ok: false });
    });

    it('refuses a chain to a CA that is not registered', () => {
      expect(verifyChain(x509(leaf), [x509(intermediate)], [x509(otherRoot)], now)).toMatchObject({
        ok: false,
      });
    });

    it('refuses a certificate signed by a certificate that is not a CA', () => {
      expect(verifyChain(x509(signedByNotCa), [x509(notCa)], [x509(root)], now)).toMatchObject({ ok: false });
    });

    it('refuses a registered CA presented as the device certificate', () => {
      expect(verifyChain(x509(intermediate), [], [x509(intermediate), x509(root)], now)).toMatchObject({
        ok: false,
      });
    });

    it('refuses once the leaf has expired, and before it is valid', () => {
      const after = Date.parse(x509(leaf).validTo) + 1000;
      const before = Date.parse(x509(leaf).validFrom) - 1000;
      expect(verifyChain(x509(leaf), [x509(intermediate)], [x509(root)], after)).toMatchObject({ ok: false });
      expect(verifyChain(x509(leaf), [x509(intermediate)], [x509(root)], before)).toMatchObject({
        ok: false,
      });
      expect(isWithinValidity(x509(leaf), after)).toBe(false);
    });

    it("reads the subject's common name", () => {
      expect(subjectCommonName(x509(leaf))).toBe('device-1');
    });
  });

  describe('authenticateDeviceCertificate', () => {
    const registry = new DeviceRegistry();
    const presented = (pem: string, intermediates: string[] = []) => ({
      leaf: x509(pem),
      intermediates: intermediates.map(x509),
    });

    beforeAll(() => {
      registry.certificateAuthorities.put('root', root);
      registry.put('self-device', {
        authentication: { x509Thumbprint: { primaryThumbprint: ssl.fingerprint('self', 'sha256') } },
      });
      registry.put('device-1', { authentication: { type: 'certificateAuthority' } });
      registry.put('device-2', { authentication: { type: 'certificateAuthority' } });
      registry.put('sas-device', {});
      registry.put('disabled', { status: 'disabled', authentication: { type: 'certificateAuthority' } });
    });

    it('accepts a selfSigned device by thumbprint, and a CA device through its chain', () => {
      expect(
        authenticateDeviceCertificate({ registry }, 'self-device', presented(selfSignedDevice)),
      ).toMatchObject({
        ok: true,
      });
      const verdict = authenticateDeviceCertificate(
        { registry },
        'device-1',
        presented(leaf, [intermediate]),
      );
      expect(verdict).toMatchObject({ ok: true, session: { device: { deviceId: 'device-1' } } });
      // The session ends when the certificate does.
      expect(verdict.ok && verdict.session.expiry).toBe(Math.floor(Date.parse(x509(leaf).validTo) / 1000));
    });

    it.each([
      ['another certificate for a selfSigned device', 'self-device', () => presented(leaf, [intermediate])],
      [
        "a CA-signed certificate whose CN is another device's",
        'device-2',
        () => presented(leaf, [intermediate]),
      ],
      ['an unregistered device', 'ghost', () => presented(selfSignedDevice)],
      ['a disabled device', 'disabled', () => presented(directLeaf)],
    ])('refuses %s as not authorized', (_label, deviceId, certificate) => {
      expect(authenticateDeviceCertificate({ registry }, deviceId, certificate())).toMatchObject({
        ok: false,
        failure: 'not-authorized',
      });
    });

    it('refuses an expired certificate whose thumbprint matches', () => {
      const later = Date.parse(x509(selfSignedDevice).validTo) + 1000;
      expect(
        authenticateDeviceCertificate({ registry }, 'self-device', presented(selfSignedDevice), later),
      ).toMatchObject({ ok: false, failure: 'not-authorized' });
    });

    it('answers bad credentials without a certificate, and for a SAS device', () => {
      expect(authenticateDeviceCertificate({ registry }, 'device-1', undefined)).toMatchObject({
        ok: false,
        failure: 'bad-credentials',
      });
      expect(authenticateDeviceCertificate({ registry }, 'sas-device', presented(directLeaf))).toMatchObject({
        ok: false,
        failure: 'bad-credentials',
      });
    });
  });

  describe('mkcert certificates (what the emulator issues)', () => {
    it('chains a device certificate from an mkcert CA, and its CN is the device id', async () => {
      const ca = await createCA({
        organization: 'Unit CA',
        countryCode: 'US',
        state: 'Unit',
        locality: 'Unit',
        validity: 2,
      });
      const device = await createCert({ ca, domains: ['mk-device'], validity: 2 });
      expect(subjectCommonName(x509(device.cert))).toBe('mk-device');
      expect(verifyChain(x509(device.cert), [], [x509(ca.cert)], Date.now())).toMatchObject({ ok: true });
      expect(verifyChain(x509(device.cert), [], [x509(root)], Date.now())).toMatchObject({ ok: false });
    });
  });

  describe('the CA store', () => {
    it('refuses a certificate that is not a CA, and text that is not a certificate, with 400', () => {
      const store = new CertificateAuthorities();
      expect(thrownBy(HubError, () => store.put('leaf', leaf))).toMatchObject({ httpStatus: 400 });
      expect(thrownBy(HubError, () => store.put('junk', 'not a certificate'))).toMatchObject({
        httpStatus: 400,
      });
      expect(thrownBy(HubError, () => store.put('bad name!', root))).toMatchObject({ httpStatus: 400 });
    });

    it('describes a CA with its SHA-1 thumbprint, replaces it with a matching etag only', () => {
      const store = new CertificateAuthorities();
      const { description, created } = store.put('root', root);
      expect(created).toBe(true);
      expect(description.properties.thumbprint).toBe(ssl.fingerprint('root', 'sha1'));
      expect(thrownBy(HubError, () => store.put('root', intermediate, '"stale"'))).toMatchObject({
        httpStatus: 412,
      });
      expect(store.put('root', intermediate, description.etag).created).toBe(false);
      expect(store.certificates().map((c) => c.fingerprint256)).toEqual([x509(intermediate).fingerprint256]);
    });

    it('trusts a built-in CA that cannot be replaced or deleted', () => {
      const store = new CertificateAuthorities();
      store.trustBuiltIn('emulator-ca', otherRoot);
      expect(store.list().map((c) => c.name)).toEqual(['emulator-ca']);
      expect(store.records()).toEqual([]);
      expect(
        thrownBy(HubError, () => {
          store.delete('emulator-ca');
        }),
      ).toMatchObject({ httpStatus: 400 });
      expect(thrownBy(HubError, () => store.put('emulator-ca', root))).toMatchObject({ httpStatus: 400 });
    });
  });
});

describe("readAuthentication (a device body's authentication)", () => {
  const sha1 = 'ab'.repeat(20);
  const sha256 = 'CD'.repeat(32);

  it.each([
    ['nothing', undefined, undefined],
    [
      'a thumbprint without type (selfSigned, as azure-iothub infers)',
      { x509Thumbprint: { primaryThumbprint: sha1 } },
      { type: 'selfSigned', primaryThumbprint: sha1, secondaryThumbprint: null },
    ],
    [
      'certificateAuthority with null keys',
      { type: 'certificateAuthority', symmetricKey: { primaryKey: null, secondaryKey: null } },
      { type: 'certificateAuthority' },
    ],
    [
      'sas with empty keys',
      { type: 'sas', symmetricKey: { primaryKey: '', secondaryKey: '' } },
      { type: 'sas', primaryKey: '', secondaryKey: '' },
    ],
    [
      'SHA-256 thumbprints',
      { type: 'selfSigned', x509Thumbprint: { primaryThumbprint: sha256, secondaryThumbprint: sha256 } },
      { type: 'selfSigned', primaryThumbprint: sha256, secondaryThumbprint: sha256 },
    ],
  ])('reads %s', (_label, body, expected) => {
    expect(readAuthentication(body)).toEqual(expected);
  });

  it.each([
    ['selfSigned without primary', { type: 'selfSigned', x509Thumbprint: { secondaryThumbprint: sha1 } }],
    ['a short thumbprint', { x509Thumbprint: { primaryThumbprint: 'abc' } }],
    [
      'mixed thumbprint lengths',
      { x509Thumbprint: { primaryThumbprint: sha1, secondaryThumbprint: sha256 } },
    ],
    ['sas with a thumbprint', { type: 'sas', x509Thumbprint: { primaryThumbprint: sha1 } }],
    [
      'selfSigned with keys',
      {
        x509Thumbprint: { primaryThumbprint: sha1 },
        symmetricKey: {
          primaryKey: Buffer.alloc(32, 1).toString('base64'),
          secondaryKey: Buffer.alloc(32, 2).toString('base64'),
        },
      },
    ],
    ['an unknown type', { type: 'x509' }],
    ['a string', 'sas'],
  ])('refuses %s with 400 ArgumentInvalid', (_label, body) => {
    expect(thrownBy(HubError, () => readAuthentication(body))).toMatchObject({
      httpStatus: 400,
      codeName: 'ArgumentInvalid',
    });
  });
});
