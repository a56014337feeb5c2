import { parseTokenScope, scopeCovers, tokenGrants } from '../../../../hub/auth/token-scope';

describe('token scope (sr as path segments)', () => {
  const host = 'hub.azure-devices.net';
  it.each([
    ['hub.azure-devices.net', ['devices', 'dev1'], true],
    ['hub.azure-devices.net/devices', ['devices', 'dev1'], true],
    ['HUB.azure-devices.net/Devices/dev1', ['devices', 'dev1', 'methods'], true],
    ['hub.azure-devices.net/devices/dev1', ['devices', 'dev10'], false],
    ['hub.azure-devices.net/devices/dev1', ['devices'], false],
    ['hub.azure-devices.net/devices/Dev1', ['devices', 'dev1'], false],
    ['hub.azure-devices.net/devices/dev', ['devices', 'dev1'], false],
    ['other.azure-devices.net', ['devices', 'dev1'], false],
    ['hub.azure-devices.net.evil.example', ['devices'], false],
    ['https://hub.azure-devices.net/devices/', ['devices', 'x'], true],
  ])('%s grants %j: %s', (sr, wanted, granted) => {
    expect(tokenGrants(parseTokenScope(sr), host, wanted)).toBe(granted);
  });

  it('compares segments, so an empty grant covers everything and nothing covers a parent', () => {
    expect(scopeCovers([], ['a', 'b'])).toBe(true);
    expect(scopeCovers(['a', 'b'], ['a'])).toBe(false);
  });
});
