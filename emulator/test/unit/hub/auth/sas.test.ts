import * as crypto from 'node:crypto';

// createHmac counted (and still computed): a token seen again must not be signed again.
jest.mock('node:crypto', () => {
  const actual = jest.requireActual<typeof import('node:crypto')>('node:crypto');
  return { ...actual, createHmac: jest.fn(actual.createHmac) };
});
import { createSasToken, parseSasToken, verifySasToken } from '../../../../hub/auth/sas';

const key = Buffer.alloc(32, 3).toString('base64');
const otherKey = Buffer.alloc(32, 4).toString('base64');
const now = Date.parse('2026-01-01T00:00:00Z');
const future = now / 1000 + 3600;

describe('SAS tokens', () => {
  it('parses a device token and keeps the resource as sent', () => {
    const token = parseSasToken(createSasToken('hub.azure-devices.net/devices/dev 1', key, future));
    expect(token).toMatchObject({
      resource: 'hub.azure-devices.net/devices/dev 1',
      expiry: future,
      keyName: undefined,
    });
    expect(token?.rawResource).toBe('hub.azure-devices.net%2Fdevices%2Fdev%201');
  });

  it('accepts the right key (primary or secondary) and refuses another', () => {
    const token = parseSasToken(createSasToken('hub.azure-devices.net', key, future, 'service'));
    expect(token?.keyName).toBe('service');
    if (!token) throw new Error('unparsed');
    expect(verifySasToken(token, [otherKey, key], now)).toBeUndefined();
    expect(verifySasToken(token, [otherKey], now)).toBe('bad-signature');
  });

  describe('a token seen again (the SDKs send one token for an hour)', () => {
    it('is accepted without computing its signature again', () => {
      const token = parseSasToken(createSasToken('hub/devices/again', key, future));
      if (!token) throw new Error('unparsed');
      expect(verifySasToken(token, [key], now)).toBeUndefined();
      const hmac = jest.mocked(crypto.createHmac);
      expect(hmac).toHaveBeenCalled();
      hmac.mockClear();
      expect(verifySasToken(token, [key], now)).toBeUndefined();
      expect(hmac).not.toHaveBeenCalled();
    });

    it('is refused once the key that verified it is no longer a key of the identity', () => {
      const token = parseSasToken(createSasToken('hub/devices/rotated', key, future));
      if (!token) throw new Error('unparsed');
      expect(verifySasToken(token, [key], now)).toBeUndefined();
      expect(verifySasToken(token, [otherKey], now)).toBe('bad-signature');
    });

    it('is refused once it expires', () => {
      const expiry = now / 1000 + 60;
      const token = parseSasToken(createSasToken('hub/devices/ageing', key, expiry));
      if (!token) throw new Error('unparsed');
      expect(verifySasToken(token, [key], now)).toBeUndefined();
      expect(verifySasToken(token, [key], expiry * 1000)).toBe('expired');
    });

    it('does not carry over to the other key encoding (Event Hubs signs with the key text)', () => {
      const token = parseSasToken(createSasToken('hub/devices/encoding', key, future));
      if (!token) throw new Error('unparsed');
      expect(verifySasToken(token, [key], now, 'base64')).toBeUndefined();
      expect(verifySasToken(token, [key], now, 'utf8')).toBe('bad-signature');
    });
  });

  it('refuses an expired token, even with the right key', () => {
    const token = parseSasToken(createSasToken('hub', key, now / 1000 - 1));
    if (!token) throw new Error('unparsed');
    expect(verifySasToken(token, [key], now)).toBe('expired');
  });

  it('refuses a token whose resource was altered after signing', () => {
    const tampered = createSasToken('hub/devices/a', key, future).replace('devices%2Fa', 'devices%2Fb');
    const token = parseSasToken(tampered);
    if (!token) throw new Error('unparsed');
    expect(verifySasToken(token, [key], now)).toBe('bad-signature');
  });

  it.each([
    ['no prefix', 'sr=a&sig=b&se=1'],
    ['no signature', 'SharedAccessSignature sr=a&se=1'],
    ['a non-numeric expiry', 'SharedAccessSignature sr=a&sig=b&se=soon'],
    ['a field without a value separator', 'SharedAccessSignature sr=a&sig=b&se=1&junk'],
    ['broken escapes', 'SharedAccessSignature sr=%E0%A4%A&sig=b&se=1'],
  ])('does not parse a token with %s', (_label, text) => {
    expect(parseSasToken(text)).toBeUndefined();
  });
});
