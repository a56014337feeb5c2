import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Message, type Client as DeviceClient } from 'azure-iot-device';
import { randomReading, telemetryMessage } from '../../device-sim/telemetry';
import type { RunningEmulator } from 'iothub-emulator';
import { startLocalHost, type LocalHostProcess } from '../../local/host/host-process';
import { connectDevice, makeTempDir, policyKey, startTestEmulator } from '../helpers/emulator';

const FIXTURE_APP = join(__dirname, '..', 'fixtures', 'eventhub-app');
const DEVICES = ['eh-alpha', 'eh-bravo', 'eh-charlie', 'eh-delta'] as const;

/** One invocation as the fixture app records it (test/fixtures/eventhub-app/index.js). */
interface Invocation {
  readonly function: 'batches' | 'single';
  readonly invocationId: string;
  readonly input: unknown;
  readonly triggerMetadata: Record<string, unknown>;
  readonly trigger: Record<string, unknown>;
}

interface BatchMetadata {
  partitionContext: {
    fullyQualifiedNamespace: string;
    eventHubName: string;
    consumerGroup: string;
    partitionId: string;
  };
  systemPropertiesArray: Record<string, unknown>[];
  propertiesArray: Record<string, unknown>[];
  enqueuedTimeUtcArray: string[];
  sequenceNumberArray: number[];
  offsetArray: unknown[];
  partitionKeyArray: unknown[];
}

/** What one event looked like to a function. */
interface Delivered {
  readonly messageId: string;
  readonly deviceId: string;
  readonly partitionId: string;
  readonly sequenceNumber: number;
  readonly body: unknown;
}

describe('Event Hub triggers on the local Functions host', () => {
  let emulator: RunningEmulator & { removeData: () => void };
  const devices = new Map<string, DeviceClient>();
  const temp = makeTempDir('local-eventhub-trigger-');
  const hosts: LocalHostProcess[] = [];
  const sent: string[] = [];

  beforeAll(async () => {
    emulator = await startTestEmulator({ devices: [...DEVICES, 'eh-real-app'], consumerGroups: ['single'] });
    for (const deviceId of [...DEVICES, 'eh-real-app']) {
      devices.set(deviceId, await connectDevice(emulator, emulator.deviceConnectionString(deviceId)));
    }
  });

  afterAll(async () => {
    await Promise.all(hosts.map((host) => host.stop()));
    await Promise.all([...devices.values()].map((device) => device.close()));
    await emulator.stop();
    emulator.removeData();
    temp.remove();
  });

  /** Sends a message through the device SDK (resolved once the hub acknowledged it). */
  async function send(deviceId: string, body: string): Promise<string> {
    const device = devices.get(deviceId);
    if (!device) throw new Error(`no device ${deviceId}`);
    const messageId = `${deviceId}-${sent.length}`;
    const message = new Message(body);
    message.messageId = messageId;
    message.contentType = 'application/json';
    message.contentEncoding = 'utf-8';
    message.properties.add('seq', String(sent.length));
    message.properties.add('Kind', 'test');
    await device.sendEvent(message);
    sent.push(messageId);
    return messageId;
  }

  const sendReadings = async (perDevice: number): Promise<string[]> => {
    const ids: string[] = [];
    for (let n = 0; n < perDevice; n++) {
      for (const deviceId of DEVICES) ids.push(await send(deviceId, JSON.stringify({ deviceId, n })));
    }
    return ids;
  };

  const startFixtureHost = async (recordFile: string, extra: Record<string, string> = {}) => {
    const host = await startLocalHost(
      {
        FIXTURE_EVENTHUB: emulator.info.eventHubConnectionString,
        FIXTURE_EVENTHUB_NAME: emulator.info.eventHubName,
        FIXTURE_SINGLE_GROUP: 'single',
        FIXTURE_RECORD_FILE: recordFile,
        LOCAL_HOST_CHECKPOINT_DIR: join(temp.path, 'checkpoints'),
        ...extra,
      },
      0,
      { projectDir: FIXTURE_APP },
    );
    hosts.push(host);
    return host;
  };

  const stopHost = async (host: LocalHostProcess) => {
    await host.stop();
    hosts.splice(hosts.indexOf(host), 1);
  };

  function readInvocations(recordFile: string, name: Invocation['function']): Invocation[] {
    if (!existsSync(recordFile)) return [];
    const text = readFileSync(recordFile, 'utf8');
    // The host may be appending a line right now: only finished lines count.
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Invocation)
      .filter((invocation) => invocation.function === name);
  }

  function delivered(recordFile: string, name: Invocation['function']): Delivered[] {
    return readInvocations(recordFile, name).flatMap((invocation) => {
      const metadata = invocation.triggerMetadata;
      const partitionId = (metadata.partitionContext as { partitionId: string }).partitionId;
      if (name === 'single') {
        const system = metadata.systemProperties as Record<string, unknown>;
        return [
          {
            messageId: system['message-id'] as string,
            deviceId: system['iothub-connection-device-id'] as string,
            partitionId,
            sequenceNumber: metadata.sequenceNumber as number,
            body: invocation.input,
          },
        ];
      }
      const batch = metadata as unknown as BatchMetadata;
      return (invocation.input as unknown[]).map((body, i) => ({
        messageId: batch.systemPropertiesArray[i]?.['message-id'] as string,
        deviceId: batch.systemPropertiesArray[i]?.['iothub-connection-device-id'] as string,
        partitionId,
        sequenceNumber: batch.sequenceNumberArray[i] ?? -1,
        body,
      }));
    });
  }

  /** Waits, on each line the host logs, until both functions have been handed `count` events in all. */
  const waitForEvents = (host: LocalHostProcess, recordFile: string, count: number) =>
    host.waitFor(
      () =>
        delivered(recordFile, 'batches').length >= count && delivered(recordFile, 'single').length >= count,
      30_000,
      `${count} events delivered to each function`,
    );

  const firstRun = join(temp.path, 'first-run.jsonl');
  let firstIds: string[] = [];

  it('delivers every event once, in batches of at most maxEventBatchSize, with the metadata the host gives', async () => {
    // Sent before the host starts: a backlog, read from the start (initialOffsetOptions fromStart).
    firstIds = await sendReadings(6);
    const plain = await send('eh-alpha', 'plain text, not JSON');
    const failing = await send('eh-bravo', '{"fail": true}');
    firstIds.push(plain, failing);

    const host = await startFixtureHost(firstRun);
    await waitForEvents(host, firstRun, firstIds.length);

    const invocations = readInvocations(firstRun, 'batches');
    const events = delivered(firstRun, 'batches');
    expect(events.map((e) => e.messageId).sort()).toEqual([...firstIds].sort());
    // maxEventBatchSize is 5 in the fixture's host.json, and each partition holds a backlog of more than 5.
    const sizes = invocations.map((i) => (i.input as unknown[]).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(5);
    expect(Math.max(...sizes)).toBeGreaterThan(1);

    for (const invocation of invocations) {
      const bodies = invocation.input as unknown[];
      const metadata = invocation.triggerMetadata as unknown as BatchMetadata;
      expect(invocation.trigger).toMatchObject({
        type: 'eventHubTrigger',
        cardinality: 'many',
        dataType: 'string',
      });
      expect(metadata.partitionContext).toEqual({
        fullyQualifiedNamespace: 'localhost',
        eventHubName: emulator.info.eventHubName,
        consumerGroup: '$Default',
        partitionId: expect.stringMatching(/^[0-3]$/) as unknown,
      });
      for (const key of [
        'systemPropertiesArray',
        'propertiesArray',
        'enqueuedTimeUtcArray',
        'sequenceNumberArray',
        'offsetArray',
        'partitionKeyArray',
      ] as const) {
        expect(metadata[key]).toHaveLength(bodies.length);
      }
      bodies.forEach((body, i) => {
        const system = metadata.systemPropertiesArray[i] ?? {};
        const deviceId = system['iothub-connection-device-id'] as string;
        expect(system).toMatchObject({
          'iothub-message-source': 'Telemetry',
          'iothub-connection-auth-generation-id': expect.any(String) as unknown,
          'iothub-connection-auth-method': expect.stringContaining('"scope":"device"') as unknown,
          'iothub-enqueuedtime': expect.any(String) as unknown,
          'x-opt-sequence-number': metadata.sequenceNumberArray[i],
          'x-opt-offset': String(metadata.offsetArray[i]),
          'x-opt-enqueued-time': metadata.enqueuedTimeUtcArray[i],
          'content-type': 'application/json',
          'content-encoding': 'utf-8',
          sequenceNumber: metadata.sequenceNumberArray[i],
          enqueuedTimeUtc: metadata.enqueuedTimeUtcArray[i],
        });
        expect(Date.parse(metadata.enqueuedTimeUtcArray[i] ?? '')).not.toBeNaN();
        // Application properties, first letters lower-cased by @azure/functions (Kind -> kind).
        expect(metadata.propertiesArray[i]).toEqual({
          seq: expect.stringMatching(/^\d+$/) as unknown,
          kind: 'test',
        });
        expect(metadata.partitionKeyArray[i]).toBeNull();
        if (typeof body === 'object' && body !== null && 'deviceId' in body) {
          expect((body as { deviceId: string }).deviceId).toBe(deviceId);
        }
      });
    }
    // dataType string: JSON bodies arrive parsed (the v4 library parses strings), other text as text.
    expect(events.find((e) => e.messageId === plain)?.body).toBe('plain text, not JSON');
    expect(events.find((e) => e.messageId === firstIds[0])?.body).toEqual({ deviceId: 'eh-alpha', n: 0 });

    // A device's events stay in one partition, in the order sent; the devices span partitions.
    for (const deviceId of DEVICES) {
      const own = events.filter((e) => e.deviceId === deviceId);
      expect(new Set(own.map((e) => e.partitionId)).size).toBe(1);
      const inSendOrder = [...own].sort((a, b) => sent.indexOf(a.messageId) - sent.indexOf(b.messageId));
      expect(inSendOrder.map((e) => e.sequenceNumber)).toEqual(
        own.map((e) => e.sequenceNumber).sort((a, b) => a - b),
      );
    }
    expect(new Set(events.map((e) => e.partitionId)).size).toBeGreaterThan(1);

    // cardinality one, its own consumer group: one invocation per event, each once, singular metadata.
    const singles = readInvocations(firstRun, 'single');
    expect(singles).toHaveLength(firstIds.length);
    expect(
      delivered(firstRun, 'single')
        .map((e) => e.messageId)
        .sort(),
    ).toEqual([...firstIds].sort());
    for (const invocation of singles) {
      expect(invocation.triggerMetadata).toMatchObject({
        partitionContext: { consumerGroup: 'single' },
        systemProperties: { 'x-opt-sequence-number': invocation.triggerMetadata.sequenceNumber },
        properties: { kind: 'test' },
      });
      expect(Array.isArray(invocation.input)).toBe(false);
    }

    // A handler that throws is logged as a failed invocation (after it recorded its input); the others carry on.
    await host.waitForLog(
      /\[batches\] error: Executed 'batches' \(Failed, Id=[\w-]+, Duration=\d+ms\): the fixture was asked to fail/,
    );
    const logs = await host.waitForLog(
      /\[single\] error: Executed 'single' \(Failed, Id=[\w-]+, Duration=\d+ms\): the fixture was asked to fail/,
    );
    // context.log reaches the host's log, prefixed with the function's name.
    expect(logs).toMatch(/^\[batches\] recorded \d+ event\(s\)$/m);
    // A function whose connection setting is missing is not started, and says which setting to set.
    expect(logs).toMatch(
      /\[host\] Function unconfigured is not started: .*connection setting FIXTURE_MISSING_CONNECTION is not defined/,
    );
    expect(logs).not.toContain(policyKey(emulator, 'service'));
  });

  it('resumes after the last checkpoint when the host restarts: nothing acknowledged is delivered again', async () => {
    const [first] = hosts;
    if (!first) throw new Error('the first test starts the host');
    await stopHost(first);

    // While no host runs. The batch that failed in the first run was checkpointed too, as the host does.
    const whileStopped = await sendReadings(2);
    const secondRun = join(temp.path, 'second-run.jsonl');
    // Checkpoint only every 100 batches: what this run handles is acknowledged when it stops, not before.
    const second = await startFixtureHost(secondRun, {
      AzureFunctionsJobHost__extensions__eventHubs__batchCheckpointFrequency: '100',
    });
    await waitForEvents(second, secondRun, whileStopped.length);
    expect(
      delivered(secondRun, 'batches')
        .map((e) => e.messageId)
        .sort(),
    ).toEqual([...whileStopped].sort());
    expect(
      delivered(secondRun, 'single')
        .map((e) => e.messageId)
        .sort(),
    ).toEqual([...whileStopped].sort());

    const whileRunning = await sendReadings(1);
    await waitForEvents(second, secondRun, whileStopped.length + whileRunning.length);
    await stopHost(second);

    // A graceful stop checkpoints what was handled since the last checkpoint.
    const afterStop = await sendReadings(1);
    const thirdRun = join(temp.path, 'third-run.jsonl');
    const third = await startFixtureHost(thirdRun);
    await waitForEvents(third, thirdRun, afterStop.length);
    expect(
      delivered(thirdRun, 'batches')
        .map((e) => e.messageId)
        .sort(),
    ).toEqual([...afterStop].sort());
    expect(
      delivered(thirdRun, 'single')
        .map((e) => e.messageId)
        .sort(),
    ).toEqual([...afterStop].sort());
    // Everything ever sent reached each function exactly once over the three runs.
    const all = [firstRun, secondRun, thirdRun].flatMap((file) =>
      delivered(file, 'batches').map((e) => e.messageId),
    );
    expect(all.sort()).toEqual([...sent].sort());
    await stopHost(third);
  });

  it("runs the app's deviceTelemetry function: a log line per telemetry message in the host's output", async () => {
    const host = await startLocalHost({
      IOTHUB_EVENTS_CONNECTION: emulator.info.eventHubConnectionString,
      IOTHUB_EVENTS_HUB_NAME: emulator.info.eventHubName,
      IOTHUB_EVENTS_CONSUMER_GROUP: '$Default',
      LOCAL_HOST_CHECKPOINT_DIR: join(temp.path, 'app-checkpoints'),
    });
    hosts.push(host);
    const device = devices.get('eh-real-app');
    if (!device) throw new Error('no device eh-real-app');
    for (let i = 0; i < 3; i++) await device.sendEvent(telemetryMessage(randomReading()));
    const lines = (text: string) =>
      text.match(/^\[deviceTelemetry\] Telemetry device=eh-real-app .*$/gm) ?? [];
    const logs = await host.waitFor((text) => lines(text).length >= 3, 30_000, '3 deviceTelemetry lines');
    expect(lines(logs)).toHaveLength(3);
    for (const line of lines(logs)) {
      expect(line).toMatch(
        / partition=[0-3] seq=\d+ enqueued=\S+Z temperature=[\d.]+ humidity=[\d.]+ temperatureAlert=(true|false)/,
      );
    }
    await stopHost(host);
  });
});
