import { AccessGuard, newDashboardToken } from '../../../dashboard/access';

describe('AccessGuard', () => {
  const guard = new AccessGuard(8090, 'the-token');

  test('prints the URL on 127.0.0.1 with the token', () => {
    expect(guard.url).toBe('http://127.0.0.1:8090/?token=the-token');
  });

  test.each(['127.0.0.1:8090', 'localhost:8090', 'LOCALHOST:8090'])('takes Host %s', (host) => {
    expect(guard.checkSite({ host })).toBeUndefined();
  });

  test.each([
    ['a rebinding host name', 'evil.example:8090'],
    ['another port', '127.0.0.1:8091'],
    ['no port', '127.0.0.1'],
    ['the IPv6 loopback, which the server does not listen on', '[::1]:8090'],
  ])('refuses %s as Host', (_what, host) => {
    expect(guard.checkSite({ host })).toEqual({ status: 403, code: 'ForeignHost' });
  });

  test('refuses a request without Host', () => {
    expect(guard.checkSite({})).toEqual({ status: 403, code: 'ForeignHost' });
  });

  test.each(['http://127.0.0.1:8090', 'http://localhost:8090'])('takes its own Origin %s', (origin) => {
    expect(guard.checkSite({ host: '127.0.0.1:8090', origin })).toBeUndefined();
  });

  test.each([
    'http://evil.example',
    'http://127.0.0.1:8091',
    'https://127.0.0.1:8090',
    'null',
    'http://127.0.0.1:8090.evil.example',
  ])('refuses Origin %s', (origin) => {
    expect(guard.checkSite({ host: '127.0.0.1:8090', origin })).toEqual({
      status: 403,
      code: 'ForeignOrigin',
    });
  });

  test.each(['cross-site', 'same-site'])('refuses Sec-Fetch-Site %s', (secFetchSite) => {
    expect(guard.checkSite({ host: '127.0.0.1:8090', secFetchSite })).toEqual({
      status: 403,
      code: 'CrossSiteRequest',
    });
  });

  test.each(['same-origin', 'none'])('takes Sec-Fetch-Site %s', (secFetchSite) => {
    expect(guard.checkSite({ host: '127.0.0.1:8090', secFetchSite })).toBeUndefined();
  });

  test('knows its token and nothing else', () => {
    expect(guard.hasToken('the-token')).toBe(true);
    expect(guard.hasToken('the-token2')).toBe(false);
    expect(guard.hasToken('the-toke')).toBe(false);
    expect(guard.hasToken('')).toBe(false);
    expect(guard.hasToken(undefined)).toBe(false);
  });

  test('reads a bearer token, and only a well-formed one', () => {
    expect(AccessGuard.bearerOf('Bearer abc_DEF-123')).toBe('abc_DEF-123');
    expect(AccessGuard.bearerOf('bearer abc')).toBeUndefined();
    expect(AccessGuard.bearerOf('Bearer ')).toBeUndefined();
    expect(AccessGuard.bearerOf('Bearer a b')).toBeUndefined();
    expect(AccessGuard.bearerOf(undefined)).toBeUndefined();
  });
});

test('each start gets a new 256-bit URL-safe token', () => {
  const first = newDashboardToken();
  expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(newDashboardToken()).not.toBe(first);
});
