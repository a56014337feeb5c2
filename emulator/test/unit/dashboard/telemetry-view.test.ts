import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TELEMETRY_PREVIEW_BYTES } from '../../../dashboard/api-types';
import { recentTelemetry, telemetryItem } from '../../../dashboard/telemetry-view';
import { EventStore } from '../../../hub/telemetry/event-store';
import type { TelemetryEvent } from '../../../hub/telemetry/record';

function event(body: Buffer | string, applicationProperties: Record<string, string> = {}): TelemetryEvent {
  return {
    partitionId: '1',
    sequenceNumber: 42,
    offset: '100',
    enqueuedTimeUtc: new Date(5_000),
    deviceId: 'dev',
    authGenerationId: 'g',
    body: typeof body === 'string' ? Buffer.from(body) : body,
    systemProperties: {},
    applicationProperties,
  };
}

describe('telemetryItem', () => {
  test('keeps the top-level finite numbers of a JSON object', () => {
    const item = telemetryItem(
      event('{"temperature":21.5,"humidity":40,"label":"x","nested":{"a":1},"big":1e400,"flag":true}', {
        alert: 'false',
      }),
    );
    expect(item).toMatchObject({
      sequenceNumber: 42,
      partitionId: '1',
      time: 5_000,
      fields: { temperature: 21.5, humidity: 40 },
      truncated: false,
      properties: { alert: 'false' },
    });
    expect(Object.keys(item.fields)).toEqual(['temperature', 'humidity']);
  });

  test.each([
    ['text', 'hello'],
    ['an array', '[1,2,3]'],
    ['a number', '42'],
    ['nothing', ''],
  ])('gives no fields for %s', (_what, body) => {
    expect(telemetryItem(event(body)).fields).toEqual({});
  });

  test('keeps a field named __proto__ as data', () => {
    const item = telemetryItem(event('{"__proto__": 5}'));
    expect(Object.getOwnPropertyNames(item.fields)).toEqual(['__proto__']);
    expect(item.fields.__proto__).toBe(5);
  });

  test('cuts the body preview and says so', () => {
    const item = telemetryItem(event(Buffer.alloc(TELEMETRY_PREVIEW_BYTES + 10, 'a')));
    expect(item.body).toHaveLength(TELEMETRY_PREVIEW_BYTES);
    expect(item.truncated).toBe(true);
    expect(item.bytes).toBe(TELEMETRY_PREVIEW_BYTES + 10);
  });
});

describe('recentTelemetry', () => {
  let dir: string;
  let store: EventStore;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dashboard-telemetry-'));
    store = await EventStore.open({
      dir,
      partitionCount: 1,
      retentionMs: 3_600_000,
      maxPartitionBytes: 16 * 1024 * 1024,
      fsync: false,
      warn: () => undefined,
    });
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const append = (deviceId: string, value: number) =>
    store.append({
      deviceId,
      authGenerationId: 'g',
      body: Buffer.from(JSON.stringify({ value })),
      systemProperties: {},
      applicationProperties: {},
    });

  test("reads one device's last messages from the log, oldest first", async () => {
    for (let i = 0; i < 30; i++) {
      await append('a', i);
      await append('b', 100 + i);
    }
    const items = recentTelemetry(store, 'a', 5);
    expect(items.map((item) => item.fields.value)).toEqual([25, 26, 27, 28, 29]);
    expect(recentTelemetry(store, 'b', 1).map((item) => item.fields.value)).toEqual([129]);
  });

  test('gives nothing for a device without messages, or an empty log', async () => {
    expect(recentTelemetry(store, 'a', 5)).toEqual([]);
    await append('b', 1);
    expect(recentTelemetry(store, 'a', 5)).toEqual([]);
  });
});
