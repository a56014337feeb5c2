import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PartitionLog,
  type PartitionLogOptions,
  type StartPosition,
} from '../../../../hub/telemetry/partition-log';
import { encodeRecord, type NewTelemetry, type TelemetryEvent } from '../../../../hub/telemetry/record';

let dir: string;
const opened: PartitionLog[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'partition-log-'));
});

afterEach(async () => {
  jest.restoreAllMocks();
  await Promise.allSettled(opened.splice(0).map((log) => log.close()));
  rmSync(dir, { recursive: true, force: true });
});

interface OpenedLog {
  readonly log: PartitionLog;
  /** What the log announced through its `onAppended` callback, in order. */
  readonly appended: TelemetryEvent[];
  readonly warnings: string[];
}

async function openLog(overrides: Partial<PartitionLogOptions> = {}): Promise<OpenedLog> {
  const appended: TelemetryEvent[] = [];
  const warnings: string[] = [];
  const log = await PartitionLog.open(
    {
      dir,
      partitionId: '0',
      retentionMs: 24 * 3600_000,
      maxBytes: 1024 ** 3,
      segmentBytes: 1024 ** 2,
      segmentMaxAgeMs: 24 * 3600_000,
      fsync: false,
      cacheEvents: 1000,
      warn: (message) => warnings.push(message),
      ...overrides,
    },
    (event) => appended.push(event),
  );
  opened.push(log);
  return { log, appended, warnings };
}

/** A message with bytes that are not UTF-8, and properties that need escaping in JSON. */
function message(index: number, deviceId = 'dev-1', body?: Buffer): NewTelemetry {
  return {
    deviceId,
    authGenerationId: `gen-${deviceId}`,
    body: body ?? Buffer.concat([Buffer.from([0, 0xff, 0xfe, index & 0xff]), Buffer.from(`{"i":${index}}`)]),
    systemProperties: { '$.mid': `m-${index}`, '$.ct': 'application/json', '$.ce': 'utf-8' },
    applicationProperties: { index: String(index), 'ünï "cøde"': 'a=b&c\n' },
  };
}

function at<T>(items: readonly T[], index: number): T {
  const item = items.at(index);
  if (item === undefined) throw new Error(`nothing at ${index}`);
  return item;
}

/** The size of an event's record on disk. */
function recordLength(event: TelemetryEvent): number {
  return encodeRecord(event, event.sequenceNumber, event.enqueuedTimeUtc.getTime()).length;
}

function segmentFiles(): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort();
}

function parseSegmentName(name: string): { base: number; first: number } {
  const match = /^(\d{16})-(\d{16})\.log$/.exec(name);
  if (!match) throw new Error(`unexpected segment name ${name}`);
  return { base: Number(match[1]), first: Number(match[2]) };
}

function sizeOf(name: string): number {
  return statSync(join(dir, name)).size;
}

/** Controls `Date.now()`, which gives events their enqueued time and segments their age. */
function useClock(start: number): { now: number } {
  const clock = { now: start };
  jest.spyOn(Date, 'now').mockImplementation(() => clock.now);
  return clock;
}

async function appendSequentially(log: PartitionLog, count: number, from = 0): Promise<TelemetryEvent[]> {
  const events: TelemetryEvent[] = [];
  for (let i = from; i < from + count; i++) events.push(await log.append(message(i)));
  return events;
}

const ALL = 1e9;

function expectContiguous(events: readonly TelemetryEvent[], firstSequence = 0): void {
  events.forEach((event, index) => {
    expect(event.sequenceNumber).toBe(firstSequence + index);
    if (index > 0) {
      expect(Number(event.offset)).toBeGreaterThan(Number(at(events, index - 1).offset));
    }
  });
}

/** Every segment file is named after the offset and sequence number of its first event. */
function expectSegmentNamesMatch(events: readonly TelemetryEvent[]): void {
  for (const name of segmentFiles()) {
    const { base, first } = parseSegmentName(name);
    if (sizeOf(name) === 0) continue;
    const event = events.find((candidate) => candidate.sequenceNumber === first);
    expect(event?.offset).toBe(String(base));
  }
}

describe('PartitionLog appends and reads', () => {
  it('reads back exactly what was appended, numbered from 0 with increasing offsets', async () => {
    const { log, appended } = await openLog();
    const bodies = [Buffer.alloc(0), Buffer.from([0, 1, 2, 0xff, 0x80]), Buffer.from('plain text', 'utf8')];
    const events: TelemetryEvent[] = [];
    for (const [index, body] of bodies.entries())
      events.push(await log.append(message(index, 'dev-1', body)));

    expect(events.map((event) => event.sequenceNumber)).toEqual([0, 1, 2]);
    expect(events.map((event) => event.partitionId)).toEqual(['0', '0', '0']);
    expect(at(events, 0).offset).toBe('0');
    // Offsets are byte positions: each record starts where the previous one ends.
    expect(Number(at(events, 1).offset)).toBe(recordLength(at(events, 0)));
    expect(Number(at(events, 2).offset)).toBe(Number(at(events, 1).offset) + recordLength(at(events, 1)));
    expect(at(events, 1)).toMatchObject({
      deviceId: 'dev-1',
      authGenerationId: 'gen-dev-1',
      systemProperties: { '$.mid': 'm-1', '$.ct': 'application/json', '$.ce': 'utf-8' },
      applicationProperties: { index: '1', 'ünï "cøde"': 'a=b&c\n' },
    });
    expect(at(events, 1).body.equals(Buffer.from([0, 1, 2, 0xff, 0x80]))).toBe(true);
    expect(appended).toEqual(events);
    expect(log.read(0, 10)).toEqual(events);
    expect(log.read(1, 1)).toEqual([at(events, 1)]);
    expect(log.read(3, 10)).toEqual([]);
    expect(log.read(0, 0)).toEqual([]);
    expect(log.properties()).toEqual({
      beginSequenceNumber: 0,
      lastEnqueuedSequenceNumber: 2,
      lastEnqueuedOffset: at(events, 2).offset,
      lastEnqueuedTimeUtc: at(events, 2).enqueuedTimeUtc,
      isEmpty: false,
    });
    // The bytes on disk are the records, back to back.
    expect(sizeOf(at(segmentFiles(), 0))).toBe(events.reduce((sum, event) => sum + recordLength(event), 0));
  });

  it('reports an empty partition as Event Hubs does', async () => {
    const { log } = await openLog();
    expect(log.properties()).toEqual({
      beginSequenceNumber: -1,
      lastEnqueuedSequenceNumber: -1,
      lastEnqueuedOffset: '-1',
      lastEnqueuedTimeUtc: new Date(0),
      isEmpty: true,
    });
    expect(log.read(0, 10)).toEqual([]);
  });

  it('shows an event to readers only once its append has resolved', async () => {
    const { log, appended } = await openLog();
    const pending = log.append(message(0));
    expect(log.read(0, 10)).toEqual([]);
    expect(log.properties().isEmpty).toBe(true);
    expect(log.resolve({ kind: 'latest' })).toBe(0);
    expect(appended).toEqual([]);
    const event = await pending;
    expect(log.read(0, 10)).toEqual([event]);
    expect(log.resolve({ kind: 'latest' })).toBe(1);
  });

  it('keeps the order of many appends made without waiting, and resolves each (with fsync)', async () => {
    const { log, appended } = await openLog({ fsync: true });
    const resolvedInOrder: number[] = [];
    const pending = Array.from({ length: 500 }, (_, i) =>
      log.append(message(i, `dev-${i % 7}`)).then((event) => {
        resolvedInOrder.push(event.sequenceNumber);
        return event;
      }),
    );
    const events = await Promise.all(pending);

    expect(events.map((event) => event.sequenceNumber)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(resolvedInOrder).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(appended.map((event) => event.sequenceNumber)).toEqual(resolvedInOrder);
    events.forEach((event, i) => {
      expect(event.applicationProperties.index).toBe(String(i));
      if (i > 0) {
        const previous = at(events, i - 1);
        expect(Number(event.offset)).toBe(Number(previous.offset) + recordLength(previous));
      }
    });
    expect(log.read(0, ALL)).toEqual(events);
  });

  it('writes appends made without waiting into the right segments when they roll over', async () => {
    const { log } = await openLog({ segmentBytes: 1500 });
    const events = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(message(i))));
    expectContiguous(events);
    expect(segmentFiles().length).toBeGreaterThan(10);
    expectSegmentNamesMatch(events);
    expect(log.read(0, ALL)).toEqual(events);
    await log.close();

    const reopened = await openLog({ segmentBytes: 1500 });
    expect(reopened.warnings).toEqual([]);
    expect(reopened.log.read(0, ALL)).toEqual(events);
  });

  it('serves reads older than the cache from the disk', async () => {
    const { log } = await openLog({ cacheEvents: 2 });
    const events = await Promise.all(Array.from({ length: 50 }, (_, i) => log.append(message(i))));
    expect(log.read(0, ALL)).toEqual(events);
    expect(log.read(10, 5)).toEqual(events.slice(10, 15));
    expect(log.read(47, 10)).toEqual(events.slice(47));
    // From the disk, each read gives fresh objects, not the ones handed to the appenders.
    expect(at(log.read(0, 1), 0)).not.toBe(at(events, 0));
  });

  it('reads across segment boundaries, from the disk only', async () => {
    const { log } = await openLog({ segmentBytes: 700, cacheEvents: 0 });
    const events = await appendSequentially(log, 40);
    const files = segmentFiles();
    expect(files.length).toBeGreaterThan(5);
    expectSegmentNamesMatch(events);
    expect(log.read(0, ALL)).toEqual(events);
    // Every start, every length up to a few segments.
    for (let start = 0; start < 40; start += 3) {
      for (const count of [1, 2, 7, 15]) {
        expect(log.read(start, count)).toEqual(events.slice(start, start + count));
      }
    }
  });

  it('puts a record larger than a segment in a segment of its own', async () => {
    const { log } = await openLog({ segmentBytes: 100 });
    const events = await appendSequentially(log, 4);
    expect(segmentFiles().map(parseSegmentName)).toEqual(
      events.map((event) => ({ base: Number(event.offset), first: event.sequenceNumber })),
    );
    expect(log.read(0, ALL)).toEqual(events);
  });

  it('reads and positions by records larger than its read buffers', async () => {
    const { log } = await openLog({ cacheEvents: 0 });
    const big = [300 * 1024, 1536 * 1024, 200 * 1024].map((size, i) => Buffer.alloc(size, i + 1));
    const events: TelemetryEvent[] = [];
    for (const [i, body] of big.entries()) events.push(await log.append(message(i, 'dev-1', body)));
    events.push(await log.append(message(3)));
    const read = log.read(0, ALL);
    // Buffer.equals: Jest's deep equality takes seconds on megabytes.
    const withoutBody = ({ body: _body, ...rest }: TelemetryEvent) => rest;
    expect(read.map(withoutBody)).toEqual(events.map(withoutBody));
    expect(read.map((event, i) => event.body.equals(at(events, i).body))).toEqual([true, true, true, true]);
    expect(read.map((event) => event.body.length)).toEqual([300 * 1024, 1536 * 1024, 200 * 1024, 11]);
    expect(log.resolve({ kind: 'offset', value: Number(at(events, 0).offset), inclusive: false })).toBe(1);
    expect(log.resolve({ kind: 'offset', value: Number(at(events, 2).offset), inclusive: false })).toBe(3);
  });

  it('starts a new segment when the active one is older than segmentMaxAgeMs', async () => {
    const clock = useClock(1_000_000);
    const { log } = await openLog({ segmentMaxAgeMs: 5000 });
    await appendSequentially(log, 2);
    clock.now += 5000;
    await appendSequentially(log, 1, 2);
    expect(segmentFiles()).toHaveLength(1);
    clock.now += 1;
    const [third] = await appendSequentially(log, 1, 3);
    expect(segmentFiles().map(parseSegmentName)).toEqual([
      { base: 0, first: 0 },
      { base: Number(third?.offset), first: 3 },
    ]);
  });

  it('never lets enqueued times go backwards, even when the clock does or across a restart', async () => {
    const clock = useClock(50_000);
    const { log } = await openLog();
    const [first] = await appendSequentially(log, 1);
    clock.now = 10_000;
    const [second] = await appendSequentially(log, 1, 1);
    expect(first?.enqueuedTimeUtc.getTime()).toBe(50_000);
    expect(second?.enqueuedTimeUtc.getTime()).toBe(50_000);
    await log.close();
    const reopened = await openLog();
    const [third] = await appendSequentially(reopened.log, 1, 2);
    expect(third?.enqueuedTimeUtc.getTime()).toBe(50_000);
    clock.now = 60_000;
    const [fourth] = await appendSequentially(reopened.log, 1, 3);
    expect(fourth?.enqueuedTimeUtc.getTime()).toBe(60_000);
  });

  it('keeps working when an onAppended listener throws', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const log = await PartitionLog.open(
      {
        dir,
        partitionId: '0',
        retentionMs: 3600_000,
        maxBytes: 1024 ** 3,
        segmentBytes: 1024 ** 2,
        segmentMaxAgeMs: 3600_000,
        fsync: false,
        cacheEvents: 100,
        warn: (text) => warnings.push(text),
      },
      () => {
        calls += 1;
        if (calls === 1) throw new Error('listener bug');
      },
    );
    opened.push(log);
    const events = await Promise.all([log.append(message(0)), log.append(message(1))]);
    const later = await log.append(message(2));
    expect(events.map((event) => event.sequenceNumber)).toEqual([0, 1]);
    expect(later.sequenceNumber).toBe(2);
    expect(calls).toBe(3);
    expect(log.read(0, ALL)).toEqual([...events, later]);
    expect(warnings).toEqual([expect.stringContaining('listener bug')]);
  }, 10_000);
});

/** What `resolve` must answer, worked out from the retained events themselves. */
function expectedStart(position: StartPosition, retained: readonly TelemetryEvent[], next: number): number {
  const begin = retained[0]?.sequenceNumber ?? next;
  const firstWhere = (test: (event: TelemetryEvent) => boolean) =>
    retained.find(test)?.sequenceNumber ?? next;
  switch (position.kind) {
    case 'earliest':
      return begin;
    case 'latest':
      return next;
    case 'sequence':
      return Math.min(Math.max(position.inclusive ? position.value : position.value + 1, begin), next);
    case 'offset':
      return firstWhere((event) =>
        position.inclusive ? Number(event.offset) >= position.value : Number(event.offset) > position.value,
      );
    case 'enqueued-time':
      return firstWhere((event) => {
        const time = event.enqueuedTimeUtc.getTime();
        return position.inclusive ? time >= position.value : time > position.value;
      });
  }
}

/** Every kind of position, at, just before and just after every event, and well before and after the log. */
function probePositions(events: readonly TelemetryEvent[]): StartPosition[] {
  const offsets = new Set([-5, -1, 0, 1]);
  const times = new Set([0]);
  const sequences = new Set([-3, -1, 0, 1]);
  for (const event of events) {
    const offset = Number(event.offset);
    const time = event.enqueuedTimeUtc.getTime();
    for (const delta of [-1, 0, 1]) {
      offsets.add(offset + delta);
      times.add(time + delta);
      sequences.add(event.sequenceNumber + delta);
    }
  }
  const last = events.at(-1);
  if (last) {
    offsets.add(Number(last.offset) + 1_000_000);
    times.add(last.enqueuedTimeUtc.getTime() + 1_000_000);
    sequences.add(last.sequenceNumber + 2).add(last.sequenceNumber + 100);
  }
  const positions: StartPosition[] = [{ kind: 'earliest' }, { kind: 'latest' }];
  for (const inclusive of [true, false]) {
    for (const value of offsets) positions.push({ kind: 'offset', value, inclusive });
    for (const value of times) positions.push({ kind: 'enqueued-time', value, inclusive });
    for (const value of sequences) positions.push({ kind: 'sequence', value, inclusive });
  }
  return positions;
}

function expectPositionsResolve(
  log: PartitionLog,
  next: number,
  probeEvents: readonly TelemetryEvent[],
): void {
  const retained = log.read(0, ALL);
  const wrong: string[] = [];
  for (const position of probePositions(probeEvents)) {
    const expected = expectedStart(position, retained, next);
    const actual = log.resolve(position);
    if (actual !== expected) wrong.push(`${JSON.stringify(position)}: ${actual}, expected ${expected}`);
  }
  expect(wrong).toEqual([]);
}

describe('PartitionLog start positions', () => {
  it('resolves each kind of position on a small log', async () => {
    const clock = useClock(100_000);
    const { log } = await openLog();
    const events: TelemetryEvent[] = [];
    for (let i = 0; i < 10; i++) {
      clock.now += 10;
      events.push(await log.append(message(i)));
    }
    const offset = (i: number) => Number(at(events, i).offset);
    const time = (i: number) => at(events, i).enqueuedTimeUtc.getTime();
    const cases: [StartPosition, number][] = [
      [{ kind: 'earliest' }, 0],
      [{ kind: 'latest' }, 10],
      [{ kind: 'sequence', value: 4, inclusive: true }, 4],
      [{ kind: 'sequence', value: 4, inclusive: false }, 5],
      [{ kind: 'sequence', value: -1, inclusive: false }, 0],
      [{ kind: 'sequence', value: -10, inclusive: true }, 0],
      [{ kind: 'sequence', value: 9, inclusive: false }, 10],
      [{ kind: 'sequence', value: 50, inclusive: true }, 10],
      [{ kind: 'offset', value: offset(4), inclusive: true }, 4],
      [{ kind: 'offset', value: offset(4), inclusive: false }, 5],
      [{ kind: 'offset', value: offset(4) + 1, inclusive: true }, 5],
      [{ kind: 'offset', value: offset(4) - 1, inclusive: false }, 4],
      [{ kind: 'offset', value: -1, inclusive: false }, 0],
      [{ kind: 'offset', value: offset(9), inclusive: false }, 10],
      [{ kind: 'offset', value: 1e12, inclusive: true }, 10],
      [{ kind: 'enqueued-time', value: time(4), inclusive: true }, 4],
      [{ kind: 'enqueued-time', value: time(4), inclusive: false }, 5],
      [{ kind: 'enqueued-time', value: time(4) - 1, inclusive: false }, 4],
      [{ kind: 'enqueued-time', value: 0, inclusive: false }, 0],
      [{ kind: 'enqueued-time', value: time(9), inclusive: false }, 10],
      [{ kind: 'enqueued-time', value: time(9) + 60_000, inclusive: true }, 10],
    ];
    for (const [position, expected] of cases) {
      expect({ position, start: log.resolve(position) }).toEqual({ position, start: expected });
    }
  });

  it('resolves every position on an empty log to 0', async () => {
    const { log } = await openLog();
    for (const position of probePositions([])) expect(log.resolve(position)).toBe(0);
  });

  it.each([
    ['one segment with a multi-entry index', 1024 ** 3, 700],
    ['many small segments', 3000, 300],
  ])(
    'resolves every position like a scan of the events would, in %s, also after reopening',
    async (_label, segmentBytes, count) => {
      const clock = useClock(1_000_000);
      const { log } = await openLog({ segmentBytes, cacheEvents: 50 });
      const pending: Promise<TelemetryEvent>[] = [];
      for (let i = 0; i < count; i++) {
        // Three events per millisecond, so that exclusive times skip several events.
        clock.now = 1_000_000 + Math.floor(i / 3) * 7;
        pending.push(log.append(message(i)));
      }
      const events = await Promise.all(pending);
      if (segmentBytes < 10_000) expect(segmentFiles().length).toBeGreaterThan(5);
      else expect(segmentFiles()).toHaveLength(1);
      expectPositionsResolve(log, count, events);

      await log.close();
      const reopened = await openLog({ segmentBytes, cacheEvents: 50 });
      expectPositionsResolve(reopened.log, count, events);
    },
  );

  it('resolves positions before the first retained event to it after trimming', async () => {
    const clock = useClock(1_000_000);
    const { log } = await openLog({ segmentBytes: 2000, retentionMs: 1000 });
    const events: TelemetryEvent[] = [];
    for (let i = 0; i < 60; i++) {
      clock.now += 10;
      events.push(await log.append(message(i)));
    }
    await log.trim(at(events, 30).enqueuedTimeUtc.getTime() + 1000);
    const begin = log.properties().beginSequenceNumber;
    expect(begin).toBeGreaterThan(0);
    expect(log.resolve({ kind: 'earliest' })).toBe(begin);
    expect(log.resolve({ kind: 'sequence', value: 0, inclusive: true })).toBe(begin);
    expect(log.resolve({ kind: 'offset', value: -1, inclusive: false })).toBe(begin);
    expect(log.resolve({ kind: 'enqueued-time', value: 0, inclusive: false })).toBe(begin);
    expectPositionsResolve(log, 60, events);
  });
});

describe('PartitionLog restart and recovery', () => {
  it('keeps events, offsets and numbering across close and reopen, and continues them', async () => {
    const first = await openLog({ segmentBytes: 1000 });
    const events = await appendSequentially(first.log, 30);
    const properties = first.log.properties();
    await first.log.close();

    const { log, appended, warnings } = await openLog({ segmentBytes: 1000 });
    expect(warnings).toEqual([]);
    expect(appended).toEqual([]);
    expect(log.properties()).toEqual(properties);
    expect(log.read(0, ALL)).toEqual(events);
    expect(log.resolve({ kind: 'latest' })).toBe(30);

    const next = await log.append(message(30));
    const last = at(events, 29);
    expect(next.sequenceNumber).toBe(30);
    expect(Number(next.offset)).toBe(Number(last.offset) + recordLength(last));
    expect(log.read(29, 5)).toEqual([last, next]);
    expectSegmentNamesMatch([...events, next]);
  });

  it('continues numbering from the last record on disk after a kill during a rollover', async () => {
    // A kill at the worst moment: appends are assigned numbers and the next segment's file is created (named after
    // the next number) while the current segment's last records are still waiting to be written. A copy of the
    // folder taken in that same turn is what the disk holds if the process dies then.
    const first = await openLog({ segmentBytes: 1000 });
    const acknowledged = await appendSequentially(first.log, 5);
    const inFlight = Array.from({ length: 12 }, (_, i) => first.log.append(message(5 + i)));
    const crashed = mkdtempSync(join(tmpdir(), 'partition-log-crash-'));
    try {
      for (const name of readdirSync(dir)) writeFileSync(join(crashed, name), readFileSync(join(dir, name)));
      expect(readdirSync(crashed).filter((name) => name.endsWith('.log')).length).toBeGreaterThan(1);
      await Promise.all(inFlight);

      const { log, warnings } = await openLog({ dir: crashed, segmentBytes: 1000 });
      expect(log.read(0, ALL)).toEqual(acknowledged);
      expect(log.properties().lastEnqueuedSequenceNumber).toBe(4);
      const next = await log.append(message(5));
      expect(next.sequenceNumber).toBe(5);
      const last = at(acknowledged, 4);
      expect(Number(next.offset)).toBe(Number(last.offset) + recordLength(last));
      expect(warnings.join('\n')).toMatch(/empty segment .* interrupted rollover/);
      await log.close();
    } finally {
      rmSync(crashed, { recursive: true, force: true });
    }
  });

  it('reopens an empty log as empty', async () => {
    const first = await openLog();
    await first.log.close();
    const { log, warnings } = await openLog();
    expect(warnings).toEqual([]);
    expect(log.properties().isEmpty).toBe(true);
    expect((await log.append(message(0))).sequenceNumber).toBe(0);
  });

  const tornTails: [string, (file: string) => void, number, RegExp][] = [
    [
      'a record cut short',
      (file) => {
        truncateSync(file, statSync(file).size - 5);
      },
      4,
      /incomplete record/,
    ],
    [
      'a few stray bytes',
      (file) => {
        appendFileSync(file, Buffer.from([1, 2, 3]));
      },
      5,
      /incomplete record/,
    ],
    [
      'a length that runs past the end',
      (file) => {
        const header = Buffer.alloc(12);
        header.writeUInt32LE(1_000_000, 0);
        appendFileSync(file, header);
      },
      5,
      /incomplete record/,
    ],
    [
      'a zero length',
      (file) => {
        appendFileSync(file, Buffer.alloc(8));
      },
      5,
      /record length 0/,
    ],
    [
      'a whole record with a bad CRC',
      (file) => {
        const record = encodeRecord(message(5), 5, Date.now());
        record.writeUInt8((record.at(-1) ?? 0) ^ 0xff, record.length - 1);
        appendFileSync(file, record);
      },
      5,
      /CRC mismatch/,
    ],
    [
      'a valid record out of sequence',
      (file) => {
        appendFileSync(file, encodeRecord(message(9), 9, Date.now()));
      },
      5,
      /sequence number 9, not 5/,
    ],
  ];

  it.each(tornTails)(
    'cuts off %s at the tail when reopening, with a warning, and appends after it',
    async (_label, damage, kept, reason) => {
      const first = await openLog();
      const events = await appendSequentially(first.log, 5);
      await first.log.close();
      const file = join(dir, at(segmentFiles(), 0));
      damage(file);

      const { log, warnings } = await openLog();
      const validBytes = events.slice(0, kept).reduce((sum, event) => sum + recordLength(event), 0);
      expect(warnings).toHaveLength(1);
      expect(at(warnings, 0)).toMatch(reason);
      expect(at(warnings, 0)).toContain(file);
      expect(at(warnings, 0)).toContain(`at ${validBytes}`);
      expect(statSync(file).size).toBe(validBytes);
      expect(log.read(0, ALL)).toEqual(events.slice(0, kept));
      expect(log.properties().lastEnqueuedSequenceNumber).toBe(kept - 1);

      const next = await log.append(message(kept));
      expect(next.sequenceNumber).toBe(kept);
      expect(next.offset).toBe(String(validBytes));
      await log.close();

      const again = await openLog();
      expect(again.warnings).toEqual([]);
      expect(again.log.read(0, ALL)).toEqual([...events.slice(0, kept), next]);
    },
  );

  it('cuts the last segment off at a record damaged in the middle (dropping the records after it)', async () => {
    const first = await openLog();
    const events = await appendSequentially(first.log, 8);
    await first.log.close();
    const file = join(dir, at(segmentFiles(), 0));
    const damaged = at(events, 3);
    const bytes = readFileSync(file);
    const lastBodyByte = Number(damaged.offset) + recordLength(damaged) - 1;
    bytes[lastBodyByte] = (bytes[lastBodyByte] ?? 0) ^ 0x01;
    writeFileSync(file, bytes);

    const { log, warnings } = await openLog();
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`at ${damaged.offset} \\(CRC mismatch\\)`))]);
    expect(log.read(0, ALL)).toEqual(events.slice(0, 3));
    const next = await log.append(message(3));
    expect(next.sequenceNumber).toBe(3);
    expect(next.offset).toBe(damaged.offset);
  });

  it('cuts an earlier segment off at a damaged record and keeps the later segments', async () => {
    const first = await openLog({ segmentBytes: 1000, cacheEvents: 0 });
    const events = await appendSequentially(first.log, 30);
    await first.log.close();
    const files = segmentFiles();
    const second = parseSegmentName(at(files, 1)).first;
    expect(second).toBeGreaterThan(2);
    const damaged = at(events, 1);
    const file = join(dir, at(files, 0));
    const bytes = readFileSync(file);
    bytes[Number(damaged.offset) + 4] = (bytes[Number(damaged.offset) + 4] ?? 0) ^ 0xff; // the CRC field
    writeFileSync(file, bytes);

    const { log, warnings } = await openLog({ segmentBytes: 1000, cacheEvents: 0 });
    expect(warnings).toEqual([expect.stringContaining('CRC mismatch')]);
    const expected = [at(events, 0), ...events.slice(second)];
    expect(log.read(0, ALL)).toEqual(expected);
    // A reader positioned in the gap continues with the next event there is.
    const start = log.resolve({ kind: 'sequence', value: 1, inclusive: true });
    expect(start).toBe(1);
    expect(log.read(start, 2)).toEqual(events.slice(second, second + 2));
    expect(log.resolve({ kind: 'offset', value: Number(damaged.offset), inclusive: true })).toBe(second);
    expect(log.properties()).toMatchObject({ beginSequenceNumber: 0, lastEnqueuedSequenceNumber: 29 });
    expect((await log.append(message(30))).sequenceNumber).toBe(30);
  });

  it('refuses to serve a record damaged on disk while running', async () => {
    const { log } = await openLog({ cacheEvents: 0 });
    const events = await appendSequentially(log, 3);
    const file = join(dir, at(segmentFiles(), 0));
    const bytes = readFileSync(file);
    const position = Number(at(events, 1).offset) + 20;
    bytes[position] = (bytes[position] ?? 0) ^ 0xff;
    writeFileSync(file, bytes);
    expect(() => log.read(0, ALL)).toThrow(/CRC mismatch/);
  });
});

describe('PartitionLog trimming', () => {
  it('deletes whole segments past retention, oldest first, and keeps the numbering', async () => {
    const clock = useClock(1_000_000);
    const { log } = await openLog({ segmentBytes: 2000, retentionMs: 60_000 });
    const events: TelemetryEvent[] = [];
    for (let i = 0; i < 60; i++) {
      clock.now += 10;
      events.push(await log.append(message(i)));
    }
    const before = segmentFiles();
    expect(before.length).toBeGreaterThan(4);
    const firsts = before.map((name) => parseSegmentName(name).first);
    // A cut-off inside the third segment: that segment holds events on both sides of it.
    const begin = at(firsts, 2);
    const cutoff = at(events, begin + 1).enqueuedTimeUtc.getTime();

    await log.trim(cutoff + 60_000);
    expect(segmentFiles()).toEqual(before.slice(2));
    expect(at(events, begin).enqueuedTimeUtc.getTime()).toBeLessThan(cutoff);
    const last = at(events, 59);
    expect(log.properties()).toEqual({
      beginSequenceNumber: begin,
      lastEnqueuedSequenceNumber: 59,
      lastEnqueuedOffset: last.offset,
      lastEnqueuedTimeUtc: last.enqueuedTimeUtc,
      isEmpty: false,
    });
    expect(log.read(0, ALL)).toEqual(events.slice(begin));
    expect(log.read(begin, 3)).toEqual(events.slice(begin, begin + 3));

    // Trimming again at the same time changes nothing.
    await log.trim(cutoff + 60_000);
    expect(segmentFiles()).toEqual(before.slice(2));

    const next = await log.append(message(60));
    expect(next.sequenceNumber).toBe(60);
    expect(Number(next.offset)).toBe(Number(last.offset) + recordLength(last));
    await log.close();

    const reopened = await openLog({ segmentBytes: 2000, retentionMs: 60_000 });
    expect(reopened.log.properties().beginSequenceNumber).toBe(begin);
    expect(reopened.log.read(0, ALL)).toEqual([...events.slice(begin), next]);
  });

  it('empties the partition when everything is past retention, and numbering goes on after a restart', async () => {
    const clock = useClock(1_000_000);
    const { log } = await openLog({ segmentBytes: 2000, retentionMs: 60_000 });
    const events = await appendSequentially(log, 25);
    const lastBytes = Number(at(events, 24).offset) + recordLength(at(events, 24));

    await log.trim(clock.now + 60_001);
    expect(segmentFiles()).toEqual([`${String(lastBytes).padStart(16, '0')}-${'25'.padStart(16, '0')}.log`]);
    expect(log.properties()).toMatchObject({
      beginSequenceNumber: 25,
      lastEnqueuedSequenceNumber: 24,
      isEmpty: true,
    });
    expect(log.read(0, ALL)).toEqual([]);
    expect(log.resolve({ kind: 'earliest' })).toBe(25);
    expect(log.resolve({ kind: 'latest' })).toBe(25);
    expect(log.resolve({ kind: 'offset', value: -1, inclusive: false })).toBe(25);
    await log.close();

    const reopened = await openLog({ segmentBytes: 2000, retentionMs: 60_000 });
    expect(reopened.log.properties()).toMatchObject({
      beginSequenceNumber: 25,
      lastEnqueuedSequenceNumber: 24,
      isEmpty: true,
    });
    const next = await reopened.log.append(message(25));
    expect(next).toMatchObject({ sequenceNumber: 25, offset: String(lastBytes) });
    expect(reopened.log.properties()).toMatchObject({ beginSequenceNumber: 25, isEmpty: false });
    expect(reopened.log.read(0, ALL)).toEqual([next]);
  });

  it('deletes the oldest segments while the log is over its size cap, and no more', async () => {
    const { log } = await openLog({ segmentBytes: 1000, maxBytes: 3500 });
    const events = await appendSequentially(log, 40);
    const before = segmentFiles();
    const sizes = new Map(before.map((name) => [name, sizeOf(name)]));

    await log.trim();
    const kept = segmentFiles();
    const removed = before.slice(0, before.length - kept.length);
    expect(kept).toEqual(before.slice(removed.length));
    expect(removed.length).toBeGreaterThan(0);
    const keptBytes = kept.reduce((sum, name) => sum + (sizes.get(name) ?? 0), 0);
    expect(keptBytes).toBeLessThanOrEqual(3500);
    // The newest segment deleted was needed to get under the cap.
    expect(keptBytes + (sizes.get(at(removed, -1)) ?? 0)).toBeGreaterThan(3500);
    const begin = parseSegmentName(at(kept, 0)).first;
    expect(log.properties()).toMatchObject({ beginSequenceNumber: begin, lastEnqueuedSequenceNumber: 39 });
    expect(log.read(0, ALL)).toEqual(events.slice(begin));
  });

  it('deletes even the active segment when it alone is over the size cap', async () => {
    const { log } = await openLog({ maxBytes: 500 });
    const events = await appendSequentially(log, 5);
    await log.trim();
    expect(log.properties()).toMatchObject({ beginSequenceNumber: 5, isEmpty: true });
    expect(segmentFiles().map(parseSegmentName)).toEqual([
      { base: Number(at(events, 4).offset) + recordLength(at(events, 4)), first: 5 },
    ]);
    expect((await log.append(message(5))).sequenceNumber).toBe(5);
  });

  it('is not stopped by an empty segment before the active one (left by a crash or cut off at recovery)', async () => {
    const clock = useClock(1_000_000);
    const options = { segmentBytes: 1000, retentionMs: 60_000, segmentMaxAgeMs: 10_000 };
    const first = await openLog(options);
    await appendSequentially(first.log, 30);
    await first.log.close();
    const files = segmentFiles();
    expect(files.length).toBeGreaterThan(3);
    truncateSync(join(dir, at(files, 1)), 0);

    const { log, warnings } = await openLog(options);
    expect(warnings).toEqual([]);
    clock.now += 30_000;
    const late = await log.append(message(30)); // in a segment of its own: the active one is too old
    await log.trim(1_000_001 + 60_000); // a cut-off of 1_000_001: everything but the late event has expired
    expect(segmentFiles().map(parseSegmentName)).toEqual([{ base: Number(late.offset), first: 30 }]);
    expect(log.properties()).toMatchObject({ beginSequenceNumber: 30, isEmpty: false });
    expect(log.read(0, ALL)).toEqual([late]);
  });

  it('leaves a segment with appends in flight alone', async () => {
    const { log } = await openLog({ maxBytes: 1 });
    await appendSequentially(log, 1);
    const pending = log.append(message(1));
    await log.trim();
    expect(segmentFiles()).toHaveLength(1);
    const event = await pending;
    expect(log.read(0, ALL).map((e) => e.sequenceNumber)).toEqual([0, 1]);
    await log.trim();
    expect(log.properties()).toMatchObject({ isEmpty: true, beginSequenceNumber: event.sequenceNumber + 1 });
  });
});

describe('PartitionLog write failures', () => {
  it('rejects appends with a clear error when the segment file cannot be opened, and keeps refusing', async () => {
    const { log, warnings } = await openLog();
    const file = join(dir, at(segmentFiles(), 0));
    unlinkSync(file);
    mkdirSync(file); // the path is now a directory: opening it for appending fails, even for root

    const results = await Promise.allSettled([log.append(message(0)), log.append(message(1))]);
    for (const result of results) {
      expect(result.status).toBe('rejected');
      if (result.status === 'rejected') {
        expect(String(result.reason)).toMatch(/Partition 0 could not write its log: .*EISDIR/);
      }
    }
    await expect(log.append(message(2))).rejects.toThrow(/Partition 0 could not write its log/);
    expect(warnings).toEqual([expect.stringMatching(/^Partition 0 could not write its log: .*EISDIR/)]);
    expect(log.properties().isEmpty).toBe(true);
    expect(log.read(0, ALL)).toEqual([]);
    await expect(log.close()).resolves.toBeUndefined();
  });

  const haveDevFull = existsSync('/dev/full');
  (haveDevFull ? it : it.skip)('rejects appends when the disk is full (/dev/full)', async () => {
    const { log, warnings } = await openLog();
    const file = join(dir, at(segmentFiles(), 0));
    unlinkSync(file);
    symlinkSync('/dev/full', file);
    await expect(log.append(message(0))).rejects.toThrow(/Partition 0 could not write its log: .*ENOSPC/);
    await expect(log.append(message(1))).rejects.toThrow(/could not write its log/);
    expect(warnings).toHaveLength(1);
    expect(log.properties().isEmpty).toBe(true);
    await expect(log.close()).resolves.toBeUndefined();
  });

  it('rejects (not throws) an append whose new segment cannot be created', async () => {
    const { log, warnings } = await openLog({ segmentBytes: 1 });
    const [first] = await appendSequentially(log, 1);
    rmSync(dir, { recursive: true, force: true }); // the next record needs a new segment file there

    let pending: Promise<TelemetryEvent> | undefined;
    expect(() => {
      pending = log.append(message(1));
    }).not.toThrow();
    await expect(pending).rejects.toThrow(/Partition 0 could not write its log: .*ENOENT/);
    await expect(log.append(message(2))).rejects.toThrow(/could not write its log/);
    expect(warnings).toEqual([expect.stringMatching(/could not write its log/)]);
    expect(log.properties().lastEnqueuedSequenceNumber).toBe(first?.sequenceNumber);
    await expect(log.close()).resolves.toBeUndefined();
  });
});
