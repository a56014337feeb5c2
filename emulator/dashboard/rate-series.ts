import type { CurrentRates, RatePoint } from './api-types';

export type CountedMetric = 'telemetryIn' | 'c2dOut' | 'methodCalls';

/**
 * Per-second counts of the hub's activity over a fixed window (ten minutes by default), in preallocated arrays:
 * recording is a few array writes whatever the rate, and memory does not grow with traffic. A slot belongs to the
 * second stamped on it; a stale slot reads as an idle second.
 */
export class RateSeries {
  private readonly stamps: Float64Array;
  private readonly telemetryIn: Uint32Array;
  private readonly c2dOut: Uint32Array;
  private readonly methodCalls: Uint32Array;
  private readonly latencyTotalMs: Float64Array;
  private readonly connected: Uint32Array;
  private lastConnected = 0;
  /** Seconds before this one are unknown, not idle: the series starts with the dashboard. */
  private readonly firstSecond: number;

  constructor(
    readonly seconds = 600,
    private readonly now: () => number = Date.now,
  ) {
    this.firstSecond = this.secondOf(now());
    this.stamps = new Float64Array(seconds).fill(-1);
    this.telemetryIn = new Uint32Array(seconds);
    this.c2dOut = new Uint32Array(seconds);
    this.methodCalls = new Uint32Array(seconds);
    this.latencyTotalMs = new Float64Array(seconds);
    this.connected = new Uint32Array(seconds);
  }

  count(metric: CountedMetric, amount = 1): void {
    const slot = this.slot();
    this[metric][slot] = (this[metric][slot] ?? 0) + amount;
  }

  /** A finished method call: counted, and its duration added to the second's mean. */
  methodCall(durationMs: number): void {
    const slot = this.slot();
    this.methodCalls[slot] = (this.methodCalls[slot] ?? 0) + 1;
    this.latencyTotalMs[slot] = (this.latencyTotalMs[slot] ?? 0) + durationMs;
  }

  /** The number of connected devices now (kept per second: the chart draws the last value of each). */
  setConnected(count: number): void {
    this.lastConnected = count;
    this.connected[this.slot()] = count;
  }

  /** The completed seconds of the window since the series started, oldest first (the current one is still counting). */
  points(): RatePoint[] {
    const current = this.secondOf(this.now());
    const points: RatePoint[] = [];
    let connected: number | undefined;
    for (let second = Math.max(this.firstSecond, current - this.seconds + 1); second < current; second++) {
      const point = this.pointAt(second, connected);
      connected = point.connected;
      points.push(point);
    }
    return points;
  }

  /** The last completed second. */
  lastPoint(): RatePoint {
    const previous = this.secondOf(this.now()) - 1;
    return this.pointAt(previous, undefined);
  }

  /** Per-second rates over the last `window` completed seconds. */
  rates(window = 10): CurrentRates {
    const current = this.secondOf(this.now());
    let telemetryIn = 0;
    let c2dOut = 0;
    let methodCalls = 0;
    let latencyTotalMs = 0;
    for (let second = current - window; second < current; second++) {
      const slot = this.slotOf(second);
      if (this.stamps[slot] !== second) continue;
      telemetryIn += this.telemetryIn[slot] ?? 0;
      c2dOut += this.c2dOut[slot] ?? 0;
      methodCalls += this.methodCalls[slot] ?? 0;
      latencyTotalMs += this.latencyTotalMs[slot] ?? 0;
    }
    return {
      telemetryIn: telemetryIn / window,
      c2dOut: c2dOut / window,
      methodCalls: methodCalls / window,
      methodLatencyMs: methodCalls === 0 ? null : latencyTotalMs / methodCalls,
    };
  }

  private pointAt(second: number, connectedBefore: number | undefined): RatePoint {
    const slot = this.slotOf(second);
    const t = second * 1000;
    if (this.stamps[slot] !== second) {
      // An idle second: no event touched its slot, so the device count is the one before it.
      return {
        t,
        telemetryIn: 0,
        c2dOut: 0,
        methodCalls: 0,
        methodLatencyMs: null,
        connected: connectedBefore ?? this.lastConnected,
      };
    }
    const calls = this.methodCalls[slot] ?? 0;
    return {
      t,
      telemetryIn: this.telemetryIn[slot] ?? 0,
      c2dOut: this.c2dOut[slot] ?? 0,
      methodCalls: calls,
      methodLatencyMs: calls === 0 ? null : (this.latencyTotalMs[slot] ?? 0) / calls,
      connected: this.connected[slot] ?? 0,
    };
  }

  /** The slot of the current second, cleared first when it still holds an older second. */
  private slot(): number {
    const second = this.secondOf(this.now());
    const slot = this.slotOf(second);
    if (this.stamps[slot] !== second) {
      this.stamps[slot] = second;
      this.telemetryIn[slot] = 0;
      this.c2dOut[slot] = 0;
      this.methodCalls[slot] = 0;
      this.latencyTotalMs[slot] = 0;
      this.connected[slot] = this.lastConnected;
    }
    return slot;
  }

  private secondOf(ms: number): number {
    return Math.floor(ms / 1000);
  }

  private slotOf(second: number): number {
    return ((second % this.seconds) + this.seconds) % this.seconds;
  }
}
