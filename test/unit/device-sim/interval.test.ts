import { parseTelemetryInterval } from '../../../device-sim/interval';

describe('parseTelemetryInterval (SetTelemetryInterval payload)', () => {
  it.each([
    [1, 1],
    [5, 5],
    [3600, 3600],
    ['5', 5],
    [' 10 ', 10],
  ])('accepts %j as %d seconds', (payload, seconds) => {
    expect(parseTelemetryInterval(payload)).toEqual({ ok: true, seconds });
  });

  it.each([
    [null],
    [''],
    ['abc'],
    [{}],
    [[5]],
    [1.5],
    [0],
    [-3],
    [3601],
    ['1e3'],
    ['5.0'],
    [true],
    [undefined],
    [Number.NaN],
  ])('refuses %j with a message saying what is accepted', (payload) => {
    const result = parseTelemetryInterval(payload);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/whole number of seconds from 1 to 3600/);
  });
});
