import { newTwin, twinEtag, withReportedPatch, withServiceChange } from '../../../../hub/twins/device-twin';
import { NEVER_UPDATED } from '../../../../hub/twins/twin-metadata';
import { parsePropertyPatch, TwinPatchError, type TwinObject } from '../../../../hub/twins/twin-properties';
import { thrownBy } from '../../../../../devkit/thrown-by';

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));
const NOW = '2026-03-04T05:06:07.089Z';
const patch = (text: string) => ({ kind: 'patch' as const, patch: parsePropertyPatch(text) });

describe('a device twin', () => {
  it('starts at version 1 everywhere, empty, never updated', () => {
    const twin = newTwin('dev');
    expect(plain(twin)).toEqual({
      deviceId: 'dev',
      version: 1,
      tags: {},
      desired: { properties: {}, version: 1, metadata: { $lastUpdated: NEVER_UPDATED } },
      reported: { properties: {}, version: 1, metadata: { $lastUpdated: NEVER_UPDATED } },
    });
  });

  it('takes a new etag with every change, and keeps it otherwise', () => {
    const twin = newTwin('dev');
    const etag = twinEtag(twin);
    expect(etag).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(twinEtag(newTwin('dev'))).toBe(etag);
    const changed = withServiceChange(twin, { tags: patch('{"a":1}') }, NOW);
    expect(twinEtag(changed)).not.toBe(etag);
    expect(twinEtag(withReportedPatch(changed, parsePropertyPatch('{"r":1}'), NOW))).not.toBe(
      twinEtag(changed),
    );
  });

  it('counts versions as IoT Hub does: the twin for every change, each section for its own', () => {
    let twin = newTwin('dev');
    twin = withServiceChange(twin, { tags: patch('{"site":"a"}') }, NOW);
    expect([twin.version, twin.desired.version, twin.reported.version]).toEqual([2, 1, 1]);
    twin = withServiceChange(twin, { desired: patch('{"interval":5}') }, NOW);
    expect([twin.version, twin.desired.version, twin.reported.version]).toEqual([3, 2, 1]);
    twin = withReportedPatch(twin, parsePropertyPatch('{"interval":5}'), NOW);
    expect([twin.version, twin.desired.version, twin.reported.version]).toEqual([4, 2, 2]);
    expect(plain(twin.desired.metadata)).toEqual({
      $lastUpdated: NOW,
      $lastUpdatedVersion: 2,
      interval: { $lastUpdated: NOW, $lastUpdatedVersion: 2 },
    });
    // Reported metadata has no $lastUpdatedVersion (the twin documentation's example).
    expect(plain(twin.reported.metadata)).toEqual({ $lastUpdated: NOW, interval: { $lastUpdated: NOW } });
  });

  it('merges patches (null deletes) and replaces whole documents', () => {
    let twin = withServiceChange(newTwin('dev'), { desired: patch('{"a":1,"b":{"c":2,"d":3}}') }, NOW);
    twin = withServiceChange(twin, { desired: patch('{"a":null,"b":{"c":null,"e":4}}') }, NOW);
    expect(plain(twin.desired.properties)).toEqual({ b: { d: 3, e: 4 } });
    const document: TwinObject = parsePropertyPatch('{"x":1}');
    twin = withServiceChange(twin, { desired: { kind: 'replace', document } }, NOW);
    expect(plain(twin.desired.properties)).toEqual({ x: 1 });
    expect(plain(twin.desired.metadata)).toEqual({
      $lastUpdated: NOW,
      $lastUpdatedVersion: 4,
      x: { $lastUpdated: NOW, $lastUpdatedVersion: 4 },
    });
  });

  it.each([
    [
      'tags over 8 KB',
      { tags: patch(JSON.stringify({ t: 'v'.repeat(4000), u: 'v'.repeat(4000), w: 'v'.repeat(200) })) },
    ],
    [
      'desired properties over 32 KB',
      {
        desired: patch(
          JSON.stringify(
            Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, 'v'.repeat(4000)])),
          ),
        ),
      },
    ],
  ])('refuses %s with 413 and leaves the twin as it was', (_what, change) => {
    const twin = newTwin('dev');
    expect(thrownBy(TwinPatchError, () => withServiceChange(twin, change, NOW)).status).toBe(413);
    expect(plain(twin)).toEqual(plain(newTwin('dev')));
  });

  it('accepts tags of exactly 8 KB as IoT Hub counts them', () => {
    // Key "t" (1) + 8191 characters = 8192.
    const tags = patch(JSON.stringify({ t: 'v'.repeat(4096), u: 'v'.repeat(4094) }));
    expect(withServiceChange(newTwin('dev'), { tags }, NOW).version).toBe(2);
  });
});
