import { TelemetryLog } from '../../emulator/telemetry-log';

const message = (deviceId: string, n: number) => ({
  deviceId,
  authGenerationId: 'g',
  body: Buffer.from(JSON.stringify({ n })),
  systemProperties: { messageId: `m${n}` },
  applicationProperties: { temperatureAlert: 'false' },
});

describe('TelemetryLog', () => {
  it('keeps each device in one partition, in order, with growing sequence numbers and offsets', () => {
    const log = new TelemetryLog(4);
    const partition = log.partitionOf('dev-1');
    for (let n = 0; n < 5; n++) log.append(message('dev-1', n));
    const events = log.events(partition);
    expect(events.map((e) => JSON.parse(e.body.toString()) as { n: number })).toEqual(
      [0, 1, 2, 3, 4].map((n) => ({ n })),
    );
    expect(events.map((e) => e.sequenceNumber)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set(events.map((e) => e.partitionId))).toEqual(new Set([String(partition)]));
    const offsets = events.map((e) => Number(e.offset));
    expect([...offsets].sort((a, b) => a - b)).toEqual(offsets);
    expect(new Set(offsets).size).toBe(5);
  });

  it('spreads devices over partitions with a stable hash', () => {
    const log = new TelemetryLog(4);
    const used = new Set(Array.from({ length: 50 }, (_, i) => log.partitionOf(`device-${i}`)));
    expect(used.size).toBe(4);
    expect(new TelemetryLog(4).partitionOf('device-7')).toBe(log.partitionOf('device-7'));
  });

  it('trims the oldest events beyond its bound', () => {
    const log = new TelemetryLog(1, 3);
    for (let n = 0; n < 5; n++) log.append(message('d', n));
    expect(log.events(0).map((e) => e.sequenceNumber)).toEqual([2, 3, 4]);
  });
});
