#!/usr/bin/env node
import { EventHubConsumerClient, earliestEventPosition, latestEventPosition } from '@azure/event-hubs';
import { parseCommandLine } from '../devkit/cli';
import { loadLocalSettings } from './host/settings';

const USAGE = `Usage: npm run monitor-events -- [options]

Prints the telemetry of the hub's Event Hub-compatible endpoint as it arrives, one JSON document per event, like
\`az iot hub monitor-events\`. It reads with its own consumer group ($Default), beside the function app (which reads
with \`functions\`), so both see every event.

Options:
  --connection-string <cs>  Event Hub-compatible connection string (default: IOTHUB_EVENTS_CONNECTION from the
                            environment or local.settings.json, which npm start writes)
  --consumer-group <name>   default $Default
  --device <id>             only this device's events
  --from-start              from the oldest retained event instead of from now
  --help                    show this help`;

function main(): void {
  const values = parseCommandLine(process.argv.slice(2), {
    'connection-string': { type: 'string' },
    'consumer-group': { type: 'string' },
    device: { type: 'string' },
    'from-start': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const connectionString =
    values['connection-string'] ?? loadLocalSettings(process.cwd()).values.IOTHUB_EVENTS_CONNECTION;
  if (!connectionString || connectionString.includes('<paste')) {
    throw new Error(
      'No Event Hub-compatible connection string: give --connection-string, or run npm start once (it writes IOTHUB_EVENTS_CONNECTION to local.settings.json).',
    );
  }
  const client = new EventHubConsumerClient(values['consumer-group'] ?? '$Default', connectionString);
  const subscription = client.subscribe(
    {
      processEvents: (events, context) => {
        for (const event of events) {
          const deviceId = event.systemProperties?.['iothub-connection-device-id'] as string | undefined;
          if (values.device !== undefined && deviceId !== values.device) continue;
          console.log(
            JSON.stringify({
              event: {
                origin: deviceId,
                partition: context.partitionId,
                sequenceNumber: event.sequenceNumber,
                enqueuedTime: event.enqueuedTimeUtc.toISOString(),
                properties: { application: event.properties ?? {} },
                payload: bodyOf(event.body),
              },
            }),
          );
        }
        return Promise.resolve();
      },
      processError: (error) => {
        console.error(`monitor-events: ${error.message}`);
        return Promise.resolve();
      },
    },
    { startPosition: values['from-start'] ? earliestEventPosition : latestEventPosition },
  );
  console.error('Watching telemetry (Ctrl+C to stop)...');
  const stop = () => {
    void subscription
      .close()
      .then(() => client.close())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** The body as JSON when it is JSON text, else as text. */
function bodyOf(body: unknown): unknown {
  const text = Buffer.isBuffer(body) ? body.toString('utf8') : body;
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

try {
  main();
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
