import { integerParam, choiceParam, readQuery, textParam } from '../../../dashboard/http/query';
import { matchRoute, type Route } from '../../../dashboard/http/route';
import { DashboardError } from '../../../dashboard/errors';

const handle = () => Promise.resolve({ status: 200 });
const routes: Route[] = [
  { method: 'GET', path: 'devices', handle },
  { method: 'GET', path: 'devices/{deviceId}', handle },
  { method: 'DELETE', path: 'devices/{deviceId}', handle },
  { method: 'POST', path: 'devices/{deviceId}/methods', handle },
];

describe('matchRoute', () => {
  test('decodes each path segment after splitting, so an encoded slash stays in its id', () => {
    const match = matchRoute(routes, 'GET', "devices/a%2Fb%25('x')");
    expect(match).toMatchObject({ kind: 'found', params: { deviceId: "a/b%('x')" } });
  });

  test('tells a wrong method apart from an unknown path', () => {
    expect(matchRoute(routes, 'PUT', 'devices/x')).toEqual({
      kind: 'wrong-method',
      allowed: ['GET', 'DELETE'],
    });
    expect(matchRoute(routes, 'GET', 'devices/x/nothing')).toEqual({ kind: 'none' });
    expect(matchRoute(routes, 'GET', 'devices//methods')).toEqual({ kind: 'none' });
  });

  test('does not match a malformed percent-encoding', () => {
    expect(matchRoute(routes, 'GET', 'devices/%E0%A4%A')).toEqual({ kind: 'none' });
  });
});

describe('readQuery', () => {
  const readers = {
    search: textParam(5),
    limit: integerParam(1, 200, 50),
    status: choiceParam(['all', 'enabled'] as const),
  };

  test('fills defaults and reads values', () => {
    expect(readQuery(new URLSearchParams(''), readers)).toEqual({ search: '', limit: 50, status: 'all' });
    expect(readQuery(new URLSearchParams('search=ab&limit=7&status=enabled'), readers)).toEqual({
      search: 'ab',
      limit: 7,
      status: 'enabled',
    });
  });

  test.each([
    ['an unknown parameter', 'limt=5', 'limt'],
    ['a parameter given twice', 'limit=5&limit=6', 'limit'],
    ['a number out of range', 'limit=201', 'limit'],
    ['a number that is not whole', 'limit=1.5', 'limit'],
    ['a choice not offered', 'status=gone', 'status'],
    ['text too long', 'search=abcdef', 'search'],
  ])('refuses %s, naming it', (_what, query, target) => {
    let thrown: unknown;
    try {
      readQuery(new URLSearchParams(query), readers);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DashboardError);
    expect(thrown).toMatchObject({ status: 400, target });
  });
});
