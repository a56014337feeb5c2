import { matches, valueAt } from '../../../../hub/query/evaluate';
import { parseCondition } from '../../../../hub/query/parse-query';

const twin = {
  deviceId: 'd1',
  status: 'enabled',
  connectionState: 'Connected',
  tags: { location: { region: 'US' }, floor: 3, constructor: 'tagged' },
  properties: { desired: { interval: 5 }, reported: { fw: '1.2', on: true, nothing: null } },
};

const where = (condition: string) => matches(twin, parseCondition(condition));

describe('matches', () => {
  it.each([
    ["tags.location.region = 'US'", true],
    ["tags.location.region = 'EU'", false],
    ['tags.floor > 2 AND tags.floor <= 3', true],
    ["properties.reported.fw < '1.10'", false], // strings compare ordinally
    ['properties.reported.on = true', true],
    ['properties.reported.nothing = null', true],
    ["status = 'enabled' AND connectionState = 'Connected'", true],
    ["deviceId IN ['d0', 'd1']", true],
    ["deviceId NIN ['d0', 'd1']", false],
    ['IS_DEFINED(properties.desired.interval)', true],
    ['IS_DEFINED(properties.desired.missing)', false],
    ["NOT tags.location.region = 'EU'", true],
    ["tags.floor = 1 OR (tags.floor = 3 AND deviceId = 'd1')", true],
    ["tags.constructor = 'tagged'", true],
  ])('%s -> %s', (condition, expected) => {
    expect(where(condition)).toBe(expected);
  });

  it('treats a missing property and mixed types as undefined, which NOT keeps undefined', () => {
    expect(where('tags.missing = 1')).toBe(false);
    expect(where('NOT tags.missing = 1')).toBe(false);
    expect(where("tags.floor = '3'")).toBe(false);
    expect(where("NOT tags.floor = '3'")).toBe(false);
    expect(where('tags.missing = 1 OR tags.floor = 3')).toBe(true);
  });

  it('never reads inherited properties', () => {
    expect(valueAt(twin, ['tags', 'toString'])).toBeUndefined();
    expect(valueAt(twin, ['properties', 'desired', '__proto__'])).toBeUndefined();
    expect(where('IS_DEFINED(tags.hasOwnProperty)')).toBe(false);
  });
});
