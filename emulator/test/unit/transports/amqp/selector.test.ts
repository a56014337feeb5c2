import type { StartPosition } from '../../../../hub/telemetry/partition-log';
import { parseSelector, SELECTOR_FILTER_KEY, SelectorError } from '../../../../transports/amqp/selector';
import { thrownBy } from '../../../../../devkit/thrown-by';

describe('parseSelector', () => {
  it('uses the filter key the Event Hubs clients send', () => {
    expect(SELECTOR_FILTER_KEY).toBe('apache.org:selector-filter:string');
  });

  it('starts at the beginning of the partition when there is no filter', () => {
    expect(parseSelector(undefined)).toEqual({ kind: 'earliest' });
  });

  it.each<[string, StartPosition]>([
    // What the JS client writes (values quoted).
    ["amqp.annotation.x-opt-offset > '-1'", { kind: 'earliest' }],
    ["amqp.annotation.x-opt-offset >= '-1'", { kind: 'earliest' }],
    ["amqp.annotation.x-opt-offset > '@latest'", { kind: 'latest' }],
    ["amqp.annotation.x-opt-offset >= '@latest'", { kind: 'latest' }],
    ["amqp.annotation.x-opt-offset > '1234'", { kind: 'offset', value: 1234, inclusive: false }],
    ["amqp.annotation.x-opt-offset >= '1234'", { kind: 'offset', value: 1234, inclusive: true }],
    ["amqp.annotation.x-opt-offset > '0'", { kind: 'offset', value: 0, inclusive: false }],
    ["amqp.annotation.x-opt-sequence-number > '41'", { kind: 'sequence', value: 41, inclusive: false }],
    ["amqp.annotation.x-opt-sequence-number >= '41'", { kind: 'sequence', value: 41, inclusive: true }],
    [
      "amqp.annotation.x-opt-enqueued-time > '1767225600000'",
      { kind: 'enqueued-time', value: 1767225600000, inclusive: false },
    ],
    [
      "amqp.annotation.x-opt-enqueued-time >= '1767225600000'",
      { kind: 'enqueued-time', value: 1767225600000, inclusive: true },
    ],
    // What the .NET client writes (values bare).
    ['amqp.annotation.x-opt-offset > -1', { kind: 'earliest' }],
    ['amqp.annotation.x-opt-offset > @latest', { kind: 'latest' }],
    ['amqp.annotation.x-opt-offset >= 1234', { kind: 'offset', value: 1234, inclusive: true }],
    ['amqp.annotation.x-opt-sequence-number > 41', { kind: 'sequence', value: 41, inclusive: false }],
    ['amqp.annotation.x-opt-sequence-number >= -1', { kind: 'sequence', value: -1, inclusive: true }],
    [
      'amqp.annotation.x-opt-enqueued-time > 1767225600000',
      { kind: 'enqueued-time', value: 1767225600000, inclusive: false },
    ],
    // Spacing and case are not significant.
    ["  AMQP.Annotation.X-Opt-Offset>'5'  ", { kind: 'offset', value: 5, inclusive: false }],
    ['amqp.annotation.x-opt-sequence-number>=7', { kind: 'sequence', value: 7, inclusive: true }],
    ["amqp.annotation.x-opt-offset > ' 12 '", { kind: 'offset', value: 12, inclusive: false }],
  ])('reads %s', (expression, expected) => {
    expect(parseSelector(expression)).toEqual(expected);
  });

  it.each([
    ['an empty expression', ''],
    ['another annotation', "amqp.annotation.x-opt-partition-key > '1'"],
    ['another operator', "amqp.annotation.x-opt-offset = '1'"],
    ['less than', "amqp.annotation.x-opt-offset < '1'"],
    ['no value', 'amqp.annotation.x-opt-offset >'],
    ['an unterminated quote', "amqp.annotation.x-opt-offset > '12"],
    ['two conditions', "amqp.annotation.x-opt-offset > '1' AND amqp.annotation.x-opt-offset > '2'"],
    ['a value with a space', 'amqp.annotation.x-opt-offset > 1 2'],
    ['a non-numeric offset', "amqp.annotation.x-opt-offset > 'abc'"],
    ['a fractional sequence number', "amqp.annotation.x-opt-sequence-number > '1.5'"],
    ['a date instead of milliseconds', "amqp.annotation.x-opt-enqueued-time > '2026-01-01T00:00:00Z'"],
    ['@latest for a sequence number', "amqp.annotation.x-opt-sequence-number > '@latest'"],
    ['an empty quoted value', "amqp.annotation.x-opt-offset > ''"],
    ['a number too long to be exact', "amqp.annotation.x-opt-offset > '12345678901234567'"],
    ['a missing prefix', "x-opt-offset > '1'"],
  ])('refuses %s with a SelectorError', (_label, expression) => {
    const error = thrownBy(SelectorError, () => parseSelector(expression));
    expect(error.name).toBe('SelectorError');
    expect(error.message.length).toBeGreaterThan(0);
  });

  it('names the unsupported expression or value in its message', () => {
    expect(
      thrownBy(SelectorError, () => parseSelector("amqp.annotation.x-opt-offset = '1'")).message,
    ).toContain("amqp.annotation.x-opt-offset = '1'");
    expect(
      thrownBy(SelectorError, () => parseSelector("amqp.annotation.x-opt-sequence-number > 'soon'")).message,
    ).toBe('The sequence number "soon" in the selector filter is not a whole number.');
  });

  it('keeps its message short for a huge expression', () => {
    const error = thrownBy(SelectorError, () => parseSelector(`x${'y'.repeat(100_000)}`));
    expect(error.message.length).toBeLessThan(500);
  });
});
