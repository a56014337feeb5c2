import { RateSeries } from '../../../dashboard/rate-series';

/** A clock the test moves by hand. */
function clock(startMs: number) {
  let now = startMs;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('RateSeries', () => {
  test('counts per second and reports completed seconds only', () => {
    const time = clock(1_000_000);
    const series = new RateSeries(60, time.now);
    series.count('telemetryIn');
    series.count('telemetryIn');
    series.count('c2dOut');
    expect(series.points()).toEqual([]); // the first second is still counting
    time.advance(1000);
    series.count('telemetryIn');
    const [first] = series.points();
    expect(first).toEqual({
      t: 1_000_000,
      telemetryIn: 2,
      c2dOut: 1,
      methodCalls: 0,
      methodLatencyMs: null,
      connected: 0,
    });
    time.advance(1000);
    expect(series.points().map((point) => point.telemetryIn)).toEqual([2, 1]);
  });

  test('averages method latency per second and over the rate window', () => {
    const time = clock(5_000);
    const series = new RateSeries(60, time.now);
    series.methodCall(10);
    series.methodCall(30);
    time.advance(1000);
    series.methodCall(50);
    time.advance(1000);
    expect(series.points().map((point) => point.methodLatencyMs)).toEqual([20, 50]);
    const rates = series.rates(10);
    expect(rates.methodCalls).toBeCloseTo(0.3);
    expect(rates.methodLatencyMs).toBeCloseTo(30);
  });

  test('idle seconds read as zero and keep the last device count', () => {
    const time = clock(0);
    const series = new RateSeries(60, time.now);
    series.setConnected(3);
    time.advance(1000);
    series.count('telemetryIn');
    time.advance(5000);
    const points = series.points();
    expect(points).toHaveLength(6);
    expect(points.map((point) => point.connected)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(points.map((point) => point.telemetryIn)).toEqual([0, 1, 0, 0, 0, 0]);
  });

  test('forgets seconds older than its window, reusing their slots', () => {
    const time = clock(0);
    const series = new RateSeries(10, time.now);
    series.count('telemetryIn', 7);
    time.advance(10_000); // the same slot, ten seconds later
    series.count('telemetryIn', 2);
    time.advance(1000);
    const points = series.points();
    expect(points).toHaveLength(9);
    expect(points.at(-1)?.telemetryIn).toBe(2);
    expect(points.reduce((sum, point) => sum + point.telemetryIn, 0)).toBe(2);
  });

  test('rates are per second over the window', () => {
    const time = clock(0);
    const series = new RateSeries(60, time.now);
    for (let second = 0; second < 10; second++) {
      series.count('telemetryIn', 5);
      time.advance(1000);
    }
    expect(series.rates(10).telemetryIn).toBe(5);
    expect(series.rates(10).methodLatencyMs).toBeNull();
  });
});
