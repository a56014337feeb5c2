import { HubError } from '../../../../hub/errors';
import {
  MAX_PARENTHESES_DEPTH,
  MAX_QUERY_LENGTH,
  parseCondition,
  parseQuery,
} from '../../../../hub/query/parse-query';

function refusal(text: string): HubError {
  try {
    parseQuery(text);
  } catch (error) {
    if (error instanceof HubError) return error;
    throw error;
  }
  throw new Error(`parsed: ${text}`);
}

describe('parseQuery', () => {
  it('reads SELECT * FROM devices without a condition', () => {
    expect(parseQuery('SELECT * FROM devices')).toEqual({
      select: undefined,
      top: undefined,
      from: 'devices',
      where: undefined,
      groupBy: [],
    });
  });

  it('reads keywords in any case and the three collections', () => {
    expect(parseQuery('select * from DEVICES').from).toBe('devices');
    expect(parseQuery('SELECT * FROM devices.modules').from).toBe('devices.modules');
    expect(parseQuery('SELECT * FROM devices.jobs WHERE jobId = "j1"').from).toBe('devices.jobs');
  });

  it('reads comparisons on tags, properties, status and connection state', () => {
    const query = parseQuery(
      "SELECT * FROM devices WHERE tags.location.region = 'US' AND properties.reported.temp >= 20.5 " +
        "AND status <> 'disabled' AND connectionState = 'Connected'",
    );
    expect(query.where).toEqual({
      kind: 'and',
      operands: [
        {
          kind: 'compare',
          operator: '=',
          left: { kind: 'path', path: ['tags', 'location', 'region'] },
          right: { kind: 'literal', value: 'US' },
        },
        {
          kind: 'compare',
          operator: '>=',
          left: { kind: 'path', path: ['properties', 'reported', 'temp'] },
          right: { kind: 'literal', value: 20.5 },
        },
        {
          kind: 'compare',
          operator: '!=',
          left: { kind: 'path', path: ['status'] },
          right: { kind: 'literal', value: 'disabled' },
        },
        {
          kind: 'compare',
          operator: '=',
          left: { kind: 'path', path: ['connectionState'] },
          right: { kind: 'literal', value: 'Connected' },
        },
      ],
    });
  });

  it('gives AND precedence over OR, and reads NOT, parentheses, IS_DEFINED, IN and NIN', () => {
    const query = parseQuery(
      "SELECT * FROM devices WHERE NOT IS_DEFINED(tags.x) OR deviceId IN ['a', 'b'] AND (deviceId NIN ['c'])",
    );
    expect(query.where).toEqual({
      kind: 'or',
      operands: [
        { kind: 'not', operand: { kind: 'defined', path: ['tags', 'x'] } },
        {
          kind: 'and',
          operands: [
            { kind: 'in', operand: { kind: 'path', path: ['deviceId'] }, values: ['a', 'b'], negated: false },
            { kind: 'in', operand: { kind: 'path', path: ['deviceId'] }, values: ['c'], negated: true },
          ],
        },
      ],
    });
  });

  it('reads literals: strings with escapes, negative and exponent numbers, true, false, null', () => {
    const literal = (text: string) => {
      const where = parseQuery(`SELECT * FROM devices WHERE tags.v = ${text}`).where;
      return where?.kind === 'compare' && where.right.kind === 'literal' ? where.right.value : 'none';
    };
    expect(literal("'it\\'s'")).toBe("it's");
    expect(literal('"double"')).toBe('double');
    expect(literal('-1.5e2')).toBe(-150);
    expect(literal('TRUE')).toBe(true);
    expect(literal('false')).toBe(false);
    expect(literal('null')).toBe(null);
  });

  it('names projections after their last segment or alias, and unnamed counts $1', () => {
    const query = parseQuery('SELECT TOP 5 deviceId, properties.reported.temp AS t, tags.site FROM devices');
    expect(query.top).toBe(5);
    expect(query.select).toEqual([
      { kind: 'property', path: ['deviceId'], name: 'deviceId' },
      { kind: 'property', path: ['properties', 'reported', 'temp'], name: 't' },
      { kind: 'property', path: ['tags', 'site'], name: 'site' },
    ]);
    expect(parseQuery('SELECT COUNT() FROM devices').select).toEqual([{ kind: 'count', name: '$1' }]);
  });

  it('reads COUNT() with GROUP BY', () => {
    const query = parseQuery(
      'SELECT properties.reported.fw AS fw, COUNT() AS n FROM devices GROUP BY properties.reported.fw',
    );
    expect(query.groupBy).toEqual([['properties', 'reported', 'fw']]);
    expect(query.select).toEqual([
      { kind: 'property', path: ['properties', 'reported', 'fw'], name: 'fw' },
      { kind: 'count', name: 'n' },
    ]);
  });

  it.each([
    ['SELECT * FROM devices ORDER BY deviceId', 'ORDER BY'],
    ['SELECT * FROM things', 'unknown collection'],
    ['SELECT * FROM devices WHERE tags.x + 1 = 2', 'arithmetic'],
    ['SELECT * FROM devices WHERE STARTSWITH(deviceId, "a")', 'other functions'],
    ['SELECT * FROM devices WHERE', 'a missing condition'],
    ["SELECT * FROM devices WHERE deviceId = 'open", 'an open string'],
    ['SELECT deviceId FROM devices GROUP BY deviceId', 'GROUP BY without COUNT'],
    ['SELECT tags.a, COUNT() FROM devices GROUP BY tags.b', 'a property not grouped'],
    ['SELECT deviceId, tags.deviceId FROM devices', 'a name selected twice'],
    ['DELETE FROM devices', 'not a query'],
    ['', 'empty'],
  ])('refuses %s (%s) with IoT Hub 400', (text) => {
    const error = refusal(text);
    expect(error.httpStatus).toBe(400);
    expect(error.errorCode).toBe(400000);
    expect(error.message).toContain("The server didn't understand your query");
  });

  it('refuses parentheses nested past the bound before matching, and queries over the length limit', () => {
    const deep = `SELECT * FROM devices WHERE ${'('.repeat(MAX_PARENTHESES_DEPTH + 1)}deviceId = 'a'${')'.repeat(MAX_PARENTHESES_DEPTH + 1)}`;
    expect(refusal(deep).message).toContain('nest deeper');
    const shallow = `SELECT * FROM devices WHERE ${'('.repeat(MAX_PARENTHESES_DEPTH)}deviceId = 'a'${')'.repeat(MAX_PARENTHESES_DEPTH)}`;
    expect(parseQuery(shallow).where?.kind).toBe('compare');
    expect(
      refusal(`SELECT * FROM devices WHERE tags.a = '${'x'.repeat(MAX_QUERY_LENGTH)}'`).message,
    ).toContain('at most');
  });

  it('takes thousands of NOT and AND without recursing on them', () => {
    const nots = parseQuery(`SELECT * FROM devices WHERE ${'NOT '.repeat(1500)}deviceId = 'a'`);
    expect(nots.where?.kind).toBe('not');
    const ands = parseQuery(`SELECT * FROM devices WHERE ${Array(1000).fill('a=1').join(' AND ')}`);
    expect(ands.where?.kind === 'and' && ands.where.operands.length).toBe(1000);
  });

  it('does not count parentheses inside strings', () => {
    expect(parseQuery(`SELECT * FROM devices WHERE tags.a = '${'('.repeat(100)}'`).where?.kind).toBe(
      'compare',
    );
  });
});

describe('parseCondition', () => {
  it('reads a bare condition and a whole query over devices', () => {
    expect(parseCondition("deviceId IN ['a']")).toEqual({
      kind: 'in',
      operand: { kind: 'path', path: ['deviceId'] },
      values: ['a'],
      negated: false,
    });
    expect(parseCondition('SELECT * FROM devices WHERE tags.a = 1')?.kind).toBe('compare');
  });

  it('refuses a query over another collection', () => {
    expect(() => parseCondition('SELECT * FROM devices.jobs')).toThrow(HubError);
  });
});
