import { EventFeed } from '../../../dashboard/event-feed';
import type { FeedEntry } from '../../../dashboard/event-feed';
import type { TelemetryEvent } from '../../../hub/telemetry/record';

function telemetry(deviceId: string, body: string, sequenceNumber = 0): TelemetryEvent {
  return {
    partitionId: '0',
    sequenceNumber,
    offset: '0',
    enqueuedTimeUtc: new Date(1_000),
    deviceId,
    authGenerationId: 'g',
    body: Buffer.from(body),
    systemProperties: {},
    applicationProperties: {},
  };
}

const registered = new Set(['dev-1', 'dev-2']);

describe('EventFeed', () => {
  test('numbers events in order and tells its listeners', () => {
    const feed = new EventFeed((id) => registered.has(id));
    const seen: FeedEntry[] = [];
    feed.on('entry', (entry) => seen.push(entry));
    feed.publish({ kind: 'connected', deviceId: 'dev-1', transport: 'mqtt', summary: 'up' });
    feed.telemetry(telemetry('dev-1', '{"t":1}'));
    expect(seen.map((entry) => [entry.id, entry.kind])).toEqual([
      [1, 'connected'],
      [2, 'telemetry'],
    ]);
  });

  test('keeps per-device history for registered devices only (refused clients claim any id)', () => {
    const feed = new EventFeed((id) => registered.has(id));
    feed.publish({ kind: 'connected', deviceId: 'dev-1', transport: 'mqtt', summary: 'up' });
    feed.publish({
      kind: 'connection-refused',
      deviceId: 'stranger',
      transport: 'mqtt',
      reason: 'unknown',
      summary: 'refused',
    });
    expect(feed.forDevice('dev-1').map((event) => event.kind)).toEqual(['connected']);
    expect(feed.forDevice('stranger')).toEqual([]);
    expect(feed.recent(10).map((event) => event.kind)).toEqual(['connected', 'connection-refused']);
    feed.forget('dev-1');
    expect(feed.forDevice('dev-1')).toEqual([]);
  });

  test('is bounded: hub-wide, telemetry apart, and per device', () => {
    const feed = new EventFeed((id) => registered.has(id), { recent: 3, telemetry: 2, perDevice: 2 });
    for (let i = 0; i < 5; i++) {
      feed.publish({ kind: 'c2d-sent', deviceId: 'dev-2', messageId: `m${i}`, summary: `m${i}` });
      feed.telemetry(telemetry('dev-1', '{}', i));
    }
    const recent = feed.recent(100);
    expect(recent.filter((event) => event.kind === 'c2d-sent').map((event) => event.summary)).toEqual([
      'm2',
      'm3',
      'm4',
    ]);
    expect(recent.filter((event) => event.kind === 'telemetry')).toHaveLength(2);
    expect(recent.map((event) => event.id)).toEqual(
      [...recent.map((event) => event.id)].sort((a, b) => a - b),
    );
    expect(feed.forDevice('dev-2').map((event) => event.summary)).toEqual(['m3', 'm4']);
    expect(feed.recent(2)).toHaveLength(2);
  });

  test('builds a telemetry event from the message when read, with its numeric fields', () => {
    const feed = new EventFeed((id) => registered.has(id));
    const entry = feed.telemetry(telemetry('dev-1', '{"temperature":21.5,"unit":"C","humidity":40}', 9));
    const event = entry.event();
    expect(event).toMatchObject({
      kind: 'telemetry',
      deviceId: 'dev-1',
      time: 1_000,
      summary: 'temperature=21.5 humidity=40',
    });
    if (event.kind !== 'telemetry') throw new Error('not telemetry');
    expect(event.telemetry.fields).toEqual({ temperature: 21.5, humidity: 40 });
    expect(entry.event()).toBe(event); // built once
  });
});
