import { packageVersion, readDesiredInterval, reportedState } from '../../../device-sim/twin-state';

describe('readDesiredInterval', () => {
  it('reads telemetryInterval with the method rules and its $version', () => {
    expect(readDesiredInterval({ telemetryInterval: 5, $version: 2 }, 0)).toEqual({
      kind: 'interval',
      version: 2,
      ok: true,
      seconds: 5,
    });
    expect(readDesiredInterval({ telemetryInterval: '7', $version: 3 }, 2)).toMatchObject({
      ok: true,
      seconds: 7,
    });
    expect(readDesiredInterval({ telemetryInterval: 0, $version: 3 }, 2)).toMatchObject({
      kind: 'interval',
      ok: false,
    });
    expect(readDesiredInterval({ telemetryInterval: 'fast', $version: 3 }, 2)).toMatchObject({ ok: false });
  });

  it('ignores documents not newer than the one applied, and absent or deleted intervals', () => {
    expect(readDesiredInterval({ telemetryInterval: 5, $version: 2 }, 2)).toEqual({ kind: 'stale' });
    expect(readDesiredInterval({ other: 1, $version: 4 }, 2)).toEqual({ kind: 'absent', version: 4 });
    expect(readDesiredInterval({ telemetryInterval: null, $version: 5 }, 2)).toEqual({
      kind: 'absent',
      version: 5,
    });
    expect(readDesiredInterval(undefined, 0)).toEqual({ kind: 'absent', version: undefined });
  });
});

describe('reportedState', () => {
  it('reports the interval, firmware version and transport', () => {
    expect(reportedState(3, '1.2.3', 'amqp')).toEqual({
      telemetryInterval: 3,
      firmware: { version: '1.2.3' },
      transport: 'amqp',
    });
  });
  it("reads the firmware version from this repository's package.json", () => {
    expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
