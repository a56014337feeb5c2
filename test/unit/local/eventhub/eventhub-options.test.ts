import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EVENT_HUBS_DEFAULTS,
  parseEventHubsOptions,
  parseTimeSpan,
} from '../../../../local/eventhub/eventhub-options';
import { httpRoutePrefix, readHostConfig } from '../../../../local/host/host-config';

const withEventHubs = (eventHubs: unknown) => ({ version: '2.0', extensions: { eventHubs } });

describe('host.json extensions.eventHubs', () => {
  it("uses the extension's defaults when the section is absent", () => {
    expect(parseEventHubsOptions({ version: '2.0' })).toEqual({ options: EVENT_HUBS_DEFAULTS, warnings: [] });
    expect(EVENT_HUBS_DEFAULTS).toMatchObject({
      maxEventBatchSize: 100,
      batchCheckpointFrequency: 1,
      prefetchCount: 300,
      maxWaitTimeMs: 60_000,
      initialOffset: { type: 'fromStart' },
    });
  });

  it('reads every supported option, with keys in any case', () => {
    const { options, warnings } = parseEventHubsOptions(
      withEventHubs({
        MaxEventBatchSize: 25,
        batchcheckpointfrequency: 3,
        prefetchCount: 0,
        maxWaitTime: '00:00:05.5',
        initialOffsetOptions: { type: 'FromEnqueuedTime', enqueuedTimeUtc: '2024-01-31T12:00:00Z' },
        clientRetryOptions: { mode: 'fixed', tryTimeout: '00:00:30', delay: '00:00:01', maximumRetries: 5 },
      }),
    );
    expect(warnings).toEqual([]);
    expect(options).toEqual({
      maxEventBatchSize: 25,
      minEventBatchSize: 1,
      batchCheckpointFrequency: 3,
      prefetchCount: 0,
      maxWaitTimeMs: 5500,
      initialOffset: { type: 'fromEnqueuedTime', enqueuedTimeUtc: new Date('2024-01-31T12:00:00Z') },
      clientRetry: {
        mode: 'fixed',
        tryTimeoutMs: 30_000,
        delayMs: 1000,
        maximumDelayMs: 60_000,
        maximumRetries: 5,
      },
    });
    expect(
      parseEventHubsOptions(withEventHubs({ initialOffsetOptions: { type: 'fromEnd' } })).options
        .initialOffset,
    ).toEqual({ type: 'fromEnd' });
  });

  it.each([
    [{ maxEventBatchSize: 0 }, /maxEventBatchSize must be a whole number of at least 1; got 0/],
    [{ maxEventBatchSize: 2.5 }, /maxEventBatchSize must be a whole number/],
    [{ maxEventBatchSize: '10x' }, /maxEventBatchSize must be a whole number of at least 1; got "10x"/],
    [{ batchCheckpointFrequency: 0 }, /batchCheckpointFrequency must be a whole number of at least 1/],
    [{ prefetchCount: -1 }, /prefetchCount must be a whole number of at least 0/],
    [{ maxWaitTime: 60 }, /maxWaitTime must be a positive time span such as "00:01:00"/],
    [{ maxWaitTime: '00:00:00' }, /maxWaitTime must be a positive time span/],
    [
      { minEventBatchSize: 20, maxEventBatchSize: 10 },
      /minEventBatchSize \(20\) must not exceed maxEventBatchSize \(10\)/,
    ],
    [
      { initialOffsetOptions: { type: 'fromTheTop' } },
      /type must be fromStart, fromEnd or fromEnqueuedTime; got "fromTheTop"/,
    ],
    [
      { initialOffsetOptions: { type: 'fromEnqueuedTime' } },
      /enqueuedTimeUtc must be an ISO 8601 UTC time .* got nothing/,
    ],
    [{ initialOffsetOptions: 'fromStart' }, /initialOffsetOptions must be an object/],
    [{ clientRetryOptions: { mode: 'linear' } }, /clientRetryOptions.mode must be exponential or fixed/],
  ])('refuses %j with a message naming the key', (section, message) => {
    expect(() => parseEventHubsOptions(withEventHubs(section))).toThrow(message);
  });

  it('warns about keys the 5.x extension does not know, and about options it does not apply locally', () => {
    const { warnings } = parseEventHubsOptions(
      withEventHubs({ maxBatchSize: 64, minEventBatchSize: 5, transportType: 'amqpWebSockets' }),
    );
    expect(warnings).toEqual([
      expect.stringMatching(/maxBatchSize is not an option .* \(extension 5.x calls it maxEventBatchSize\)/),
      expect.stringMatching(/transportType has no effect on the local host/),
      expect.stringMatching(/minEventBatchSize is not applied locally/),
    ]);
  });

  it('parses .NET time spans', () => {
    expect(parseTimeSpan('00:01:00')).toBe(60_000);
    expect(parseTimeSpan('1.02:03:04.5')).toBe(((26 * 60 + 3) * 60 + 4.5) * 1000);
    expect(parseTimeSpan('00:61:00')).toBeUndefined();
    expect(parseTimeSpan('5s')).toBeUndefined();
  });
});

describe('host.json with app setting overrides', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'host-json-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('lets AzureFunctionsJobHost__ settings override host.json paths, case-insensitively, as strings', () => {
    writeFileSync(
      join(dir, 'host.json'),
      JSON.stringify({
        version: '2.0',
        extensions: { eventHubs: { maxEventBatchSize: 50 }, http: { routePrefix: '/x/' } },
      }),
    );
    const config = readHostConfig(dir, {
      AzureFunctionsJobHost__extensions__EventHubs__maxEventBatchSize: '7',
      azurefunctionsjobhost__extensions__eventHubs__initialOffsetOptions__type: 'fromEnd',
      UNRELATED: 'x',
    });
    expect(parseEventHubsOptions(config).options).toMatchObject({
      maxEventBatchSize: 7,
      initialOffset: { type: 'fromEnd' },
    });
    expect(httpRoutePrefix(config)).toBe('x');
  });

  it('has defaults without a host.json and names a malformed one', () => {
    expect(httpRoutePrefix(readHostConfig(dir, {}))).toBe('api');
    writeFileSync(join(dir, 'host.json'), '{ "version": ');
    expect(() => readHostConfig(dir, {})).toThrow(/host.json is not valid JSON/);
  });
});

describe("this app's host.json", () => {
  it('parses without warnings, with the Event Hubs values chosen for device telemetry', () => {
    const { options, warnings } = parseEventHubsOptions(
      readHostConfig(join(__dirname, '..', '..', '..', '..'), {}),
    );
    expect(warnings).toEqual([]);
    expect(options).toMatchObject({
      maxEventBatchSize: 100,
      batchCheckpointFrequency: 1,
      prefetchCount: 300,
      initialOffset: { type: 'fromStart' },
    });
  });
});
