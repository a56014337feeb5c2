import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Message, type Client as DeviceClient } from 'azure-iot-device';
import type { RunningEmulator } from 'iothub-emulator';
import { connectDevice, startTestEmulator } from '../helpers/emulator';

/**
 * Conformance of the emulator's Event Hub-compatible endpoint with the .NET Event Hubs client that the Azure
 * Functions host uses (Azure.Messaging.EventHubs): conformance/dotnet reads the endpoint through the client's public
 * API (EventHubConsumerClient, PartitionReceiver, EventProcessor<T>) and prints what it saw as JSON.
 */

const execFileAsync = promisify(execFile);

const PROJECT_DIR = join(__dirname, '..', '..', 'conformance', 'dotnet');
const DLL = join(PROJECT_DIR, 'bin', 'Release', 'net10.0', 'EventHubsConformance.dll');
const DEVICES = ['dotnet-eh-a', 'dotnet-eh-b', 'dotnet-eh-c'] as const;
const WAVE_1 = 4; // messages per device before the enqueued-time boundary
const WAVE_2 = 3; // and after it
// No telemetry or banners, and no build server or MSBuild node left running after the build: a test leaves nothing.
const DOTNET_ENV = {
  DOTNET_CLI_TELEMETRY_OPTOUT: '1',
  DOTNET_NOLOGO: '1',
  DOTNET_SKIP_FIRST_TIME_EXPERIENCE: '1',
  DOTNET_CLI_USE_MSBUILD_SERVER: '0',
  MSBUILDDISABLENODEREUSE: '1',
  UseSharedCompilation: 'false',
};

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const HAS_DOTNET = onPath('dotnet');
if (!HAS_DOTNET) {
  console.warn(
    'Skipping the .NET Event Hubs conformance check (test/conformance/dotnet-eventhubs.test.ts): it needs the .NET SDK ' +
      '(`dotnet` on PATH, SDK 10) to build conformance/dotnet against Azure.Messaging.EventHubs.',
  );
}
const describeWithDotnet = HAS_DOTNET ? describe : describe.skip;

// ---- What the .NET check prints (conformance/dotnet/Program.cs) ----

interface ReadEvent {
  partition: string;
  sequenceNumber: number;
  offset: string | null;
  enqueuedTime: string;
  enqueuedTimeUnixMs: number;
  messageId: string | null;
  correlationId: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  properties: Record<string, unknown>;
  propertyTypes: Record<string, string | null>;
  systemProperties: Record<string, string | null>;
  messageAnnotationTypes: Record<string, string | null>;
  bodyType: string;
  body: string | null;
}

interface LastEnqueued {
  sequenceNumber: number | null;
  offset: string | null;
  enqueuedTime: string | null;
  lastReceivedTime: string | null;
}

interface PartitionRead {
  partition: string;
  position: Record<string, unknown>;
  reachedLastEnqueued: boolean;
  events: ReadEvent[];
  lastEnqueuedEventProperties: LastEnqueued | null;
}

interface PartitionInfo {
  id: string;
  eventHubName: string;
  beginningSequenceNumber: number;
  lastEnqueuedSequenceNumber: number;
  lastEnqueuedOffset: string | null;
  lastEnqueuedTime: string;
  isEmpty: boolean;
}

interface ProcessorRun {
  expected: number;
  timedOut: boolean;
  initializedPartitions: string[];
  errors: string[];
  events: { partition: string; sequenceNumber: number; offset: string; messageId: string; body: string }[];
}

interface CheckOutput {
  client: { version: string; eventHubName: string; consumerGroup: string };
  eventHub: {
    name: string;
    createdOn: string;
    partitionIds: string[];
    partitionIdsFromGetPartitionIds: string[];
  };
  partitions: PartitionInfo[];
  earliestEventCount: number;
  reads: Record<string, PartitionRead[] | undefined>;
  partitionReceiver: PartitionRead[];
  processor: {
    fromEarliest: ProcessorRun;
    checkpoints: Record<string, { offset: string; sequenceNumber: number }>;
    fromCheckpoints: ProcessorRun;
  } | null;
}

interface SentMessage {
  deviceId: string;
  wave: 1 | 2;
  messageId: string;
  correlationId: string;
  body: string;
  properties: Record<string, string>;
}

async function runCheck(
  connectionString: string,
  args: string[],
): Promise<{ stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const { stdout, stderr } = await execFileAsync('dotnet', [DLL, ...args], {
    env: { ...process.env, ...DOTNET_ENV, EVENTHUB_CONNECTION_STRING: connectionString },
    timeout: 180_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { stdout, stderr, ms: Date.now() - started };
}

/** The failure of a run that must fail: exit code and output. */
async function runCheckExpectingFailure(
  connectionString: string,
  args: string[],
): Promise<{ code: unknown; stdout: string; stderr: string }> {
  const error: unknown = await runCheck(connectionString, args).then(
    () => new Error('the .NET check succeeded where it must fail'),
    (e: unknown) => e,
  );
  const { code, stdout, stderr } = error as { code?: unknown; stdout?: string; stderr?: string };
  return { code, stdout: stdout ?? '', stderr: stderr ?? '' };
}

/** Busy-waits until the wall clock has moved past `ms` (at most a millisecond or two). */
function waitForClockAfter(ms: number): number {
  let now = Date.now();
  while (now <= ms) now = Date.now();
  return now;
}

const ids = (events: readonly { sequenceNumber: number; messageId: string | null }[]) =>
  events.map((e) => `${e.sequenceNumber}:${e.messageId ?? ''}`);

describeWithDotnet(
  '.NET Event Hubs client (Azure.Messaging.EventHubs) against the Event Hub-compatible endpoint',
  () => {
    let emulator: RunningEmulator & { removeData: () => void };
    const devices: DeviceClient[] = [];
    const sent: SentMessage[] = [];
    let boundaryMs = 0;
    let output: CheckOutput;
    let earliest: Map<string, ReadEvent[]>;

    beforeAll(async () => {
      const build = execFileAsync(
        'dotnet',
        ['build', PROJECT_DIR, '-c', 'Release', '--nologo', '-v', 'quiet', '--disable-build-servers'],
        {
          env: { ...process.env, ...DOTNET_ENV },
          timeout: 300_000,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      emulator = await startTestEmulator({
        amqpPort: 0,
        consumerGroups: ['functions'],
        devices: [...DEVICES],
      });
      for (const deviceId of DEVICES)
        devices.push(await connectDevice(emulator, emulator.deviceConnectionString(deviceId)));

      const send = async (wave: 1 | 2, count: number) => {
        await Promise.all(
          DEVICES.map(async (deviceId, d) => {
            const client = devices[d];
            if (!client) throw new Error(`no client for ${deviceId}`);
            // One device's messages one after the other: their order is the order to find in its partition.
            for (let i = 0; i < count; i++) {
              const n = sent.filter((m) => m.deviceId === deviceId).length;
              const body =
                n === 1
                  ? `plain text, not JSON: température 21,5 °C ✓ ${deviceId}`
                  : JSON.stringify({ deviceId, n, wave, temperature: 20 + n / 2, humidity: 60 + n });
              const message: SentMessage = {
                deviceId,
                wave,
                messageId: `${deviceId}-msg-${n}`,
                correlationId: `${deviceId}-corr-${n}`,
                body,
                properties: {
                  temperatureAlert: n % 2 === 0 ? 'true' : 'false',
                  n: String(n),
                  'note with space': 'a b&c=d/é?',
                },
              };
              const m = new Message(body);
              m.messageId = message.messageId;
              m.correlationId = message.correlationId;
              m.contentType = 'application/json';
              m.contentEncoding = 'utf-8';
              for (const [k, v] of Object.entries(message.properties)) m.properties.add(k, v);
              await client.sendEvent(m);
              sent.push(message);
            }
          }),
        );
      };

      await send(1, WAVE_1);
      // Every wave-1 event was acknowledged, so enqueued, before now; the boundary is a later millisecond, and wave 2
      // starts in a millisecond after it: no event has the boundary's own millisecond, whatever side of a tie a server
      // would put it on.
      boundaryMs = waitForClockAfter(Date.now());
      waitForClockAfter(boundaryMs);
      await send(2, WAVE_2);

      await build;
      const run = await runCheck(emulator.info.eventHubConnectionString, [
        '--expected-count',
        String(sent.length),
        '--expected-message-ids',
        sent.map((m) => m.messageId).join(','),
        '--from-enqueued-time',
        new Date(boundaryMs).toISOString(),
        '--timeout-seconds',
        '120',
      ]);
      output = JSON.parse(run.stdout) as CheckOutput;
      earliest = new Map((output.reads.earliest ?? []).map((r) => [r.partition, r.events]));
    }, 420_000);

    afterAll(async () => {
      await Promise.all(devices.map((d) => d.close()));
      // Guarded: when beforeAll failed before the emulator started, its own failure is the one to report.
      if ((emulator as typeof emulator | undefined) === undefined) return;
      await emulator.stop();
      emulator.removeData();
    });

    const partitionIds = () => output.eventHub.partitionIds;
    const eventsOf = (partition: string) => earliest.get(partition) ?? [];
    const readsOf = (kind: string) => {
      const reads = output.reads[kind];
      if (!reads) throw new Error(`the check made no ${kind} reads`);
      return reads;
    };

    it('sees the hub: its name, 4 partitions and a creation time', () => {
      expect(output.client.version).toMatch(/^5\.12\./);
      expect(output.eventHub.name).toBe(emulator.info.eventHubName);
      expect(output.client.eventHubName).toBe(emulator.info.eventHubName);
      expect(output.client.consumerGroup).toBe('$Default');
      expect(output.eventHub.partitionIds).toEqual(['0', '1', '2', '3']);
      expect(output.eventHub.partitionIdsFromGetPartitionIds).toEqual(['0', '1', '2', '3']);
      const created = Date.parse(output.eventHub.createdOn);
      expect(created).toBeGreaterThan(Date.parse('2020-01-01T00:00:00Z'));
      expect(created).toBeLessThanOrEqual(Date.now());
    });

    it('reports partition properties that match the events in each partition', () => {
      expect(output.partitions.map((p) => p.id)).toEqual(partitionIds());
      for (const p of output.partitions) {
        const events = eventsOf(p.id);
        expect(p.eventHubName).toBe(emulator.info.eventHubName);
        expect(p.isEmpty).toBe(events.length === 0);
        const first = events[0];
        const last = events.at(-1);
        if (!first || !last) continue;
        expect(p.beginningSequenceNumber).toBe(first.sequenceNumber);
        expect(p.lastEnqueuedSequenceNumber).toBe(last.sequenceNumber);
        expect(p.lastEnqueuedOffset).toBe(last.offset);
        expect(Date.parse(p.lastEnqueuedTime)).toBe(Date.parse(last.enqueuedTime));
      }
      expect(output.partitions.filter((p) => !p.isEmpty).length).toBeGreaterThan(0);
    });

    it('reads every sent event exactly once from Earliest, with its properties and body intact', () => {
      const all = [...earliest.values()].flat();
      expect(output.earliestEventCount).toBe(sent.length);
      expect(all.map((e) => e.messageId).sort()).toEqual(sent.map((m) => m.messageId).sort());
      for (const m of sent) {
        const e = all.find((x) => x.messageId === m.messageId);
        expect(e).toMatchObject({
          correlationId: m.correlationId,
          contentType: 'application/json',
          contentEncoding: 'utf-8',
          properties: m.properties,
          bodyType: 'Data',
          body: m.body,
        });
        expect(e?.systemProperties).toMatchObject({
          'iothub-connection-device-id': m.deviceId,
          'iothub-message-source': 'Telemetry',
        });
      }
    });

    it('carries the IoT Hub annotations with the types the real endpoint uses', () => {
      for (const e of [...earliest.values()].flat()) {
        const system = e.systemProperties;
        const authMethod = JSON.parse(system['iothub-connection-auth-method'] ?? 'null') as unknown;
        expect(authMethod).toMatchObject({ scope: 'device', type: 'sas', issuer: 'iothub' });
        expect(system['iothub-connection-auth-generation-id']).toMatch(/\S/);
        const hubEnqueued = Date.parse(system['iothub-enqueuedtime'] ?? '');
        expect(Math.abs(hubEnqueued - e.enqueuedTimeUnixMs)).toBeLessThan(1000);
        expect(e.messageAnnotationTypes).toMatchObject({
          'iothub-connection-device-id': 'String',
          'iothub-connection-auth-method': 'String',
          'iothub-connection-auth-generation-id': 'String',
          'iothub-message-source': 'String',
          'iothub-enqueuedtime': 'DateTime',
          'x-opt-sequence-number': 'Int64',
          'x-opt-offset': 'String',
          'x-opt-enqueued-time': 'DateTime',
        });
        expect(Object.values(e.propertyTypes).every((t) => t === 'String')).toBe(true);
      }
    });

    it('numbers each partition consecutively, with distinct offsets and non-decreasing enqueued times', () => {
      for (const id of partitionIds()) {
        const events = eventsOf(id);
        events.forEach((e, i) => {
          expect(e.partition).toBe(id);
          expect(e.sequenceNumber).toBe((events[0]?.sequenceNumber ?? 0) + i);
          if (i > 0)
            expect(e.enqueuedTimeUnixMs).toBeGreaterThanOrEqual(events[i - 1]?.enqueuedTimeUnixMs ?? 0);
        });
        expect(new Set(events.map((e) => e.offset)).size).toBe(events.length);
        expect(events.every((e) => typeof e.offset === 'string' && e.offset.length > 0)).toBe(true);
      }
    });

    it("keeps each device's messages in one partition, in the order they were sent", () => {
      for (const deviceId of DEVICES) {
        const partitionsOfDevice = new Set(
          [...earliest.entries()]
            .filter(([, events]) =>
              events.some((e) => e.systemProperties['iothub-connection-device-id'] === deviceId),
            )
            .map(([id]) => id),
        );
        expect(partitionsOfDevice.size).toBe(1);
        const [partition] = [...partitionsOfDevice];
        const read = eventsOf(partition ?? '').filter(
          (e) => e.systemProperties['iothub-connection-device-id'] === deviceId,
        );
        expect(read.map((e) => e.messageId)).toEqual(
          sent.filter((m) => m.deviceId === deviceId).map((m) => m.messageId),
        );
      }
    });

    it('tracks the last enqueued event of each partition while reading (runtime metrics)', () => {
      for (const read of readsOf('earliest')) {
        const props = output.partitions.find((p) => p.id === read.partition);
        if (!props || props.isEmpty) continue;
        expect(read.reachedLastEnqueued).toBe(true);
        expect(read.lastEnqueuedEventProperties).not.toBeNull();
        const last = read.lastEnqueuedEventProperties;
        expect(last?.sequenceNumber).toBe(props.lastEnqueuedSequenceNumber);
        expect(last?.offset).toBe(props.lastEnqueuedOffset);
        expect(Date.parse(last?.enqueuedTime ?? '')).toBe(Date.parse(props.lastEnqueuedTime));
        expect(Number.isNaN(Date.parse(last?.lastReceivedTime ?? ''))).toBe(false);
      }
    });

    it('starts at Latest after the last event: nothing is read', () => {
      const reads = readsOf('latest');
      expect(reads.map((r) => r.partition).sort()).toEqual(partitionIds());
      for (const read of reads) expect(read.events).toEqual([]);
    });

    it.each([
      ['sequenceNumberExclusive', (e: ReadEvent, n: number) => e.sequenceNumber > n],
      ['sequenceNumberInclusive', (e: ReadEvent, n: number) => e.sequenceNumber >= n],
    ])('starts from a sequence number (%s) with the right events', (kind, keep) => {
      const reads = readsOf(kind);
      expect(reads.map((r) => r.partition).sort()).toEqual(
        partitionIds().filter((id) => eventsOf(id).length > 0),
      );
      for (const read of reads) {
        const n = read.position.sequenceNumber as number;
        expect(ids(read.events)).toEqual(ids(eventsOf(read.partition).filter((e) => keep(e, n))));
      }
    });

    it.each([
      ['offsetExclusive', 1],
      ['offsetInclusive', 0],
    ])('starts from an offset (%s) with the right events', (kind, skip) => {
      const reads = readsOf(kind);
      expect(reads.length).toBe(partitionIds().filter((id) => eventsOf(id).length > 0).length);
      for (const read of reads) {
        const events = eventsOf(read.partition);
        const index = events.findIndex((e) => e.offset === read.position.offset);
        expect(index).toBe(Math.floor(events.length / 2));
        expect(ids(read.events)).toEqual(ids(events.slice(index + skip)));
      }
    });

    it('starts from an enqueued time with exactly the events enqueued after it', () => {
      const reads = readsOf('enqueuedTime');
      expect(reads.map((r) => r.partition).sort()).toEqual(partitionIds());
      const afterBoundary: ReadEvent[] = [];
      for (const read of reads) {
        expect(read.position.enqueuedTimeUnixMs).toBe(boundaryMs);
        const expected = eventsOf(read.partition).filter((e) => e.enqueuedTimeUnixMs > boundaryMs);
        expect(ids(read.events)).toEqual(ids(expected));
        afterBoundary.push(...read.events);
      }
      expect(afterBoundary.map((e) => e.messageId).sort()).toEqual(
        sent
          .filter((m) => m.wave === 2)
          .map((m) => m.messageId)
          .sort(),
      );
    });

    it('gives PartitionReceiver the same events and partition properties', () => {
      expect(output.partitionReceiver.map((r) => r.partition)).toEqual(partitionIds());
      for (const read of output.partitionReceiver) {
        expect(ids(read.events)).toEqual(ids(eventsOf(read.partition)));
        expect(read.position.partitionPropertiesThroughReceiver).toEqual(
          output.partitions.find((p) => p.id === read.partition),
        );
        if (eventsOf(read.partition).length > 0)
          expect(read.lastEnqueuedEventProperties?.sequenceNumber).toBe(
            eventsOf(read.partition).at(-1)?.sequenceNumber,
          );
      }
    });

    it('lets an EventProcessor<T> (the base of the Functions host listener) claim every partition and read everything', () => {
      const run = output.processor?.fromEarliest;
      expect(run).toBeDefined();
      if (!run) return;
      expect(run.errors).toEqual([]);
      expect(run.timedOut).toBe(false);
      expect(run.initializedPartitions).toEqual(partitionIds());
      for (const id of partitionIds()) {
        expect(ids(run.events.filter((e) => e.partition === id))).toEqual(ids(eventsOf(id)));
      }
    });

    it('restarts an EventProcessor<T> from offset checkpoints, as the Functions host does after a restart', () => {
      const processor = output.processor;
      expect(processor).not.toBeNull();
      if (!processor) return;
      const run = processor.fromCheckpoints;
      expect(run.errors).toEqual([]);
      expect(run.timedOut).toBe(false);
      expect(run.expected).toBeGreaterThan(0);
      for (const id of partitionIds()) {
        const events = eventsOf(id);
        const checkpoint = processor.checkpoints[id];
        const expected = checkpoint
          ? events.filter((e) => e.sequenceNumber > checkpoint.sequenceNumber)
          : events;
        expect(ids(run.events.filter((e) => e.partition === id))).toEqual(ids(expected));
      }
    });

    it('reads the same events through another consumer group', async () => {
      const run = await runCheck(emulator.info.eventHubConnectionString, [
        '--consumer-group',
        'functions',
        '--expected-count',
        String(sent.length),
        '--skip-processor',
      ]);
      const other = JSON.parse(run.stdout) as CheckOutput;
      expect(other.client.consumerGroup).toBe('functions');
      for (const read of other.reads.earliest ?? [])
        expect(ids(read.events)).toEqual(ids(eventsOf(read.partition)));
    }, 180_000);

    it('refuses an unknown consumer group', async () => {
      const { code, stderr } = await runCheckExpectingFailure(emulator.info.eventHubConnectionString, [
        '--consumer-group',
        'no-such-group',
        '--skip-processor',
        '--timeout-seconds',
        '60',
      ]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/EventHubsException.*ResourceNotFound/s);
    }, 180_000);

    it('refuses a wrong key with UnauthorizedAccessException, and never prints a key', async () => {
      const connectionString = emulator.info.eventHubConnectionString;
      const key = /SharedAccessKey=([^;]+)/.exec(connectionString)?.[1] ?? '';
      expect(key).not.toBe('');
      const wrongKey = Buffer.from(`not the right key for ${emulator.info.eventHubName}`).toString('base64');
      const { code, stdout, stderr } = await runCheckExpectingFailure(
        connectionString.replace(`SharedAccessKey=${key}`, `SharedAccessKey=${wrongKey}`),
        ['--skip-processor', '--timeout-seconds', '60'],
      );
      expect(code).toBe(1);
      expect(stderr).toMatch(/UnauthorizedAccessException/);
      expect(stdout).toBe('');
      for (const secret of [key, wrongKey]) expect(stderr).not.toContain(secret);
    }, 180_000);
  },
);
