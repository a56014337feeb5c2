import { newTwin, withServiceChange } from '../../../../hub/twins/device-twin';
import { DeviceTwins } from '../../../../hub/twins/device-twins';
import { parsePropertyPatch } from '../../../../hub/twins/twin-properties';

describe('the twins of a hub, as persisted', () => {
  it('survives a JSON round trip, keeping __proto__ as data and dropping twins of deleted devices', () => {
    const store = new DeviceTwins();
    store.set(
      withServiceChange(
        newTwin('kept'),
        { desired: { kind: 'patch', patch: parsePropertyPatch('{"__proto__":{"x":1},"a":2}') } },
        '2026-01-01T00:00:00.000Z',
      ),
    );
    store.set(newTwin('deleted'));
    const saved: unknown = JSON.parse(JSON.stringify(store.stored()));
    const restored = DeviceTwins.restore(saved, (id) => id === 'kept');
    expect(JSON.stringify(restored.stored())).toBe(JSON.stringify([store.get('kept')]));
    const desired = restored.get('kept').desired.properties;
    expect(Object.getPrototypeOf(desired)).toBeNull();
    expect(Object.keys(desired)).toEqual(['__proto__', 'a']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('reads a state file from before twins were kept, and describes untouched twins as new', () => {
    const store = DeviceTwins.restore(undefined, () => true);
    expect(store.stored()).toEqual([]);
    expect(store.get('dev').version).toBe(1);
  });

  it.each([
    ['not an array', {}],
    ['a twin without a device id', [{ version: 1 }]],
    ['a version that is not a positive integer', [{ ...newTwin('d'), version: 0 }]],
    ['a section that is not an object', [{ ...newTwin('d'), desired: 'x' }]],
  ])('refuses a file whose twins are %s, naming what is wrong', (_what, saved) => {
    expect(() => DeviceTwins.restore(JSON.parse(JSON.stringify(saved)), () => true)).toThrow(
      /twins|version|desired/,
    );
  });
});
