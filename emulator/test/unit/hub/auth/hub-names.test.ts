import { HubNames } from '../../../../hub/auth/hub-names';
import { parseTokenScope, tokenGrants } from '../../../../hub/auth/token-scope';

/**
 * The names a token's `sr` may give the hub: the Azure host name, and once listening `localhost`, `127.0.0.1` and
 * `<either>:<port>` for its ports (what an SDK given `HostName=localhost` or `HostName=localhost:<port>` signs).
 */
describe('hub names', () => {
  const names = new HubNames('hub.azure-devices.net');
  names.listeningOn([8883, 443, 0], 'localhost');

  it.each([
    ['hub.azure-devices.net', true],
    ['HUB.Azure-Devices.net', true],
    ['localhost', true],
    ['LOCALHOST:443', true],
    ['127.0.0.1:8883', true],
    ['127.0.0.1', true],
    ['localhost:0', false],
    ['localhost:5671', false],
    ['other.azure-devices.net', false],
    ['hub.azure-devices.net.evil.example', false],
    ['localhost.evil.example', false],
  ])('%s names the hub: %s', (host, expected) => {
    expect(names.includes(host)).toBe(expected);
  });

  it('keeps the scope rules whatever the name: a device path covers only that device', () => {
    const grants = (sr: string, wanted: string[]) => tokenGrants(parseTokenScope(sr), names, wanted);
    expect(grants('localhost/devices/dev1', ['devices', 'dev1'])).toBe(true);
    expect(grants('localhost:443', ['devices', 'dev1'])).toBe(true);
    expect(grants('localhost:443/devices/dev1', ['devices', 'dev10'])).toBe(false);
    expect(grants('localhost:1/devices/dev1', ['devices', 'dev1'])).toBe(false);
  });

  it('knows the SASL realms SDKs derive from a HostName (its first label)', () => {
    expect(names.includesRealm('hub')).toBe(true);
    expect(names.includesRealm('localhost')).toBe(true);
    expect(names.includesRealm('localhost:443')).toBe(true);
    expect(names.includesRealm('127.0.0.1:8883')).toBe(true);
    expect(names.includesRealm('127')).toBe(false);
    expect(names.includesRealm('other')).toBe(false);
  });
});
