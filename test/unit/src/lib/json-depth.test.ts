import { jsonDepth } from '../../../../src/lib/json-depth';

describe('jsonDepth', () => {
  it.each([
    [1, 0],
    [[], 1],
    [{ a: 1 }, 1],
    [{ a: [1, { b: null }] }, 3],
  ])('measures %j as %d', (value, depth) => {
    expect(jsonDepth(value, 100)).toBe(depth);
  });

  it('stops counting past the limit without walking the rest (100,000 levels)', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonDepth(deep, 64)).toBe(65);
  });
});
