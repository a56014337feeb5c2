import {
  applyPatch,
  checkDocumentSize,
  documentSize,
  emptyTwinObject,
  parsePropertyPatch,
  TwinPatchError,
} from '../../../../hub/twins/twin-properties';
import { thrownBy } from '../../../../../devkit/thrown-by';

describe('twin property patches', () => {
  it('keeps __proto__, constructor and prototype as data, in the order written', () => {
    const patch = parsePropertyPatch(
      '{"z":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"x":2}}}',
    );
    const document = applyPatch(emptyTwinObject(), patch);
    expect(Object.getPrototypeOf(document)).toBeNull();
    expect(Object.keys(document)).toEqual(['z', '__proto__', 'constructor']);
    expect(JSON.stringify(document)).toBe(
      '{"z":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"x":2}}}',
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('merges as JSON merge patch: null deletes, objects merge, the rest replaces', () => {
    const first = applyPatch(
      emptyTwinObject(),
      parsePropertyPatch('{"a":{"b":1,"c":2},"d":[1,null],"e":"x"}'),
    );
    const second = applyPatch(first, parsePropertyPatch('{"a":{"b":null,"f":3},"d":"y","e":null}'));
    expect(JSON.parse(JSON.stringify(second))).toEqual({ a: { c: 2, f: 3 }, d: 'y' });
    // The earlier document is untouched: a refused patch leaves nothing behind.
    expect(JSON.parse(JSON.stringify(first))).toEqual({ a: { b: 1, c: 2 }, d: [1, null], e: 'x' });
  });

  it('counts size as IoT Hub documents it: key characters, strings in characters, numbers 8, booleans 4', () => {
    const document = applyPatch(
      emptyTwinObject(),
      parsePropertyPatch('{"ab":"xyz","n":1.5,"t":true,"o":{"k":[1,"é"]}}'),
    );
    // ab+xyz = 5, n+8 = 9, t+4 = 5, o + (k + 8 + 1) = 1 + 10 = 11
    expect(documentSize(document)).toBe(30);
    expect(() => {
      checkDocumentSize(document, 29, 'reported');
    }).toThrow(TwinPatchError);
  });

  it.each([
    ['11 nested levels', '{"a":'.repeat(12) + '1' + '}'.repeat(12), 400],
    ['a key of 1,025 bytes', JSON.stringify({ ['k'.repeat(1025)]: 1 }), 400],
    ['a C1 control character in a key', '{"a\\u0085":1}', 400],
    ['a non-finite number', '{"a":1e999}', 400],
    ['an integer below -2^52', '{"a":-4503599627370497}', 400],
    ['an integer of 2^52', '{"a":4503599627370496}', 400],
  ])('refuses %s', (_what, text, status) => {
    expect(thrownBy(TwinPatchError, () => parsePropertyPatch(text)).status).toBe(status);
  });
});
