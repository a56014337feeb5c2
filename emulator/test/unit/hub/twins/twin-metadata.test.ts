import { metadataOf, NEVER_UPDATED, stampedNode, updatedMetadata } from '../../../../hub/twins/twin-metadata';
import { applyPatch, emptyTwinObject, parsePropertyPatch } from '../../../../hub/twins/twin-properties';

const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('twin $metadata', () => {
  const t1 = { time: '2026-01-01T00:00:00.000Z', version: 2 };
  const t2 = { time: '2026-01-02T00:00:00.000Z', version: 3 };

  it('stamps every level of a new document, with $lastUpdatedVersion for desired properties', () => {
    // The shape of the twin documentation's example ("Device twin metadata").
    const document = applyPatch(
      emptyTwinObject(),
      parsePropertyPatch('{"telemetryConfig":{"sendFrequency":"5m"}}'),
    );
    expect(plain(metadataOf(document, t1))).toEqual({
      $lastUpdated: t1.time,
      $lastUpdatedVersion: 2,
      telemetryConfig: {
        $lastUpdated: t1.time,
        $lastUpdatedVersion: 2,
        sendFrequency: { $lastUpdated: t1.time, $lastUpdatedVersion: 2 },
      },
    });
  });

  it('restamps what a patch writes and the objects on its way, keeps the rest, drops what it deletes', () => {
    const before = metadataOf(
      applyPatch(emptyTwinObject(), parsePropertyPatch('{"a":{"b":1,"c":2},"d":3,"e":[1,2]}')),
      t1,
    );
    const after = updatedMetadata(before, parsePropertyPatch('{"a":{"b":10},"d":null,"f":{"g":true}}'), t2);
    expect(plain(after)).toEqual({
      $lastUpdated: t2.time,
      $lastUpdatedVersion: 3,
      a: {
        $lastUpdated: t2.time,
        $lastUpdatedVersion: 3,
        b: { $lastUpdated: t2.time, $lastUpdatedVersion: 3 },
        c: { $lastUpdated: t1.time, $lastUpdatedVersion: 2 },
      },
      e: { $lastUpdated: t1.time, $lastUpdatedVersion: 2 },
      f: {
        $lastUpdated: t2.time,
        $lastUpdatedVersion: 3,
        g: { $lastUpdated: t2.time, $lastUpdatedVersion: 3 },
      },
    });
    // The earlier tree is untouched.
    expect(plain(before)).toMatchObject({ $lastUpdated: t1.time, d: { $lastUpdated: t1.time } });
  });

  it('replaces the metadata below a leaf that becomes an object, and below an object that becomes a leaf', () => {
    const before = metadataOf(applyPatch(emptyTwinObject(), parsePropertyPatch('{"a":{"b":1},"c":1}')), t1);
    const after = updatedMetadata(before, parsePropertyPatch('{"a":5,"c":{"d":1}}'), { time: t2.time });
    expect(plain(after)).toMatchObject({
      a: { $lastUpdated: t2.time },
      c: { $lastUpdated: t2.time, d: { $lastUpdated: t2.time } },
    });
    expect(plain(after)).not.toHaveProperty('a.b');
  });

  it('keeps a property named __proto__ as data', () => {
    const after = updatedMetadata(
      stampedNode({ time: NEVER_UPDATED }),
      parsePropertyPatch('{"__proto__":1}'),
      t1,
    );
    expect(Object.keys(after)).toContain('__proto__');
    expect(Object.getPrototypeOf(after)).toBeNull();
  });
});
