import { readServiceChange } from '../../../../hub/twins/twin-requests';
import { TwinPatchError } from '../../../../hub/twins/twin-properties';
import { thrownBy } from '../../../../../devkit/thrown-by';

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe("a service's twin request body", () => {
  it('reads tags and desired properties as patches, nulls kept (they delete)', () => {
    const change = readServiceChange(
      { tags: { site: 'a' }, properties: { desired: { interval: 5, old: null } } },
      'dev',
      'patch',
    );
    expect(plain(change)).toEqual({
      tags: { kind: 'patch', patch: { site: 'a' } },
      desired: { kind: 'patch', patch: { interval: 5, old: null } },
    });
  });

  it('takes back a whole twin as read: identity fields, $metadata, $version and reported are read-only', () => {
    const twin = {
      deviceId: 'dev',
      etag: 'AAAAAAAAAAI=',
      status: 'enabled',
      version: 4,
      tags: { site: 'b', gone: null },
      properties: {
        desired: { interval: 7, $metadata: { $lastUpdated: 'x' }, $version: 3 },
        reported: { interval: 5, $metadata: { $lastUpdated: 'x' }, $version: 2 },
      },
    };
    expect(plain(readServiceChange(twin, 'dev', 'replace'))).toEqual({
      tags: { kind: 'replace', document: { site: 'b' } },
      desired: { kind: 'replace', document: { interval: 7 } },
    });
  });

  it('leaves out what the body does not name', () => {
    expect(plain(readServiceChange({ tags: { a: 1 } }, 'dev', 'patch'))).toEqual({
      tags: { kind: 'patch', patch: { a: 1 } },
    });
  });

  it('accepts objects 10 levels below the section (the example in the twin documentation)', () => {
    const tags = JSON.parse('{"a":'.repeat(11) + '1' + '}'.repeat(11)) as unknown;
    expect(readServiceChange({ tags }, 'dev', 'patch').tags).toBeDefined();
  });

  it.each([
    ['an array', [1]],
    ['another device id', { deviceId: 'other', tags: {} }],
    ['tags that are not an object', { tags: 'x' }],
    ['properties that are not an object', { properties: [] }],
    ['a reported property in a patch', { properties: { reported: { r: 1 } } }],
    ['a $ name below the section root', { properties: { desired: { a: { $version: 1 } } } }],
    ['a $ name in tags', { tags: { $version: 1 } }],
    ['a name with a dot', { tags: { 'a.b': 1 } }],
    ['an integer beyond 2^52', { properties: { desired: { big: 2 ** 53 } } }],
    [
      // The tags object itself, then 11 levels below it.
      '11 levels below the section',
      { tags: JSON.parse('{"a":'.repeat(12) + '1' + '}'.repeat(12)) as unknown },
    ],
  ])('refuses %s with 400', (_what, body) => {
    expect(thrownBy(TwinPatchError, () => readServiceChange(body, 'dev', 'patch')).status).toBe(400);
  });
});
