import { app, type EventHubFunctionOptions, type InvocationContext } from '@azure/functions';
import { escapeForLog, jsonForLog, safePreview } from '../lib/log-text';
import {
  parseTelemetryEvent,
  type EventOrigin,
  type MalformedTelemetry,
  type TelemetryReading,
} from '../lib/telemetry-event';
import { batchBodies, eventMetadataAt } from '../lib/trigger-metadata';

/** Longest JSON of application properties in a log line; beyond it the line is cut with `…`. */
const PROPERTIES_MAX_CHARS = 1000;

/**
 * Telemetry from IoT Hub's Event Hub-compatible endpoint: one log line per event, `context.warn` for bodies that
 * are not JSON objects. Each event is read on its own, so that one bad event never costs the rest of the batch;
 * nothing is thrown back to the host, which would not redeliver the batch anyway.
 */
export function createDeviceTelemetryHandler(parse: typeof parseTelemetryEvent = parseTelemetryEvent) {
  return function deviceTelemetry(messages: unknown, context: InvocationContext): void {
    const bodies = batchBodies(messages, context.triggerMetadata);
    bodies.forEach((body, index) => {
      try {
        const event = parse(body, eventMetadataAt(context.triggerMetadata, index, bodies.length));
        if (event.kind === 'reading') context.log(readingLine(event));
        else context.warn(malformedLine(event));
      } catch (error) {
        const reason = safePreview(error instanceof Error ? error.message : String(error), 200);
        context.error(`Telemetry event ${index + 1} of ${bodies.length} could not be processed: ${reason}`);
      }
    });
  };
}

/** `Telemetry device=… partition=… seq=… enqueued=… temperature=… humidity=… temperatureAlert=… [properties={…}]` */
function readingLine(event: TelemetryReading): string {
  const fields = [
    ...originFields(event),
    ...(event.source === undefined || /^telemetry$/i.test(event.source)
      ? []
      : [`source=${token(event.source)}`]),
    `temperature=${token(event.temperature)}`,
    `humidity=${token(event.humidity)}`,
    `temperatureAlert=${token(event.temperatureAlert)}`,
  ];
  if (Object.keys(event.properties).length > 0) {
    fields.push(`properties=${jsonForLog(event.properties, PROPERTIES_MAX_CHARS)}`);
  }
  return `Telemetry ${fields.join(' ')}`;
}

/** `Malformed telemetry device=… partition=… seq=… enqueued=… reason=… [shape=…] bytes=… preview="…"` */
function malformedLine(event: MalformedTelemetry): string {
  const fields = [
    ...originFields(event),
    `reason=${event.reason}`,
    ...(event.shape === undefined ? [] : [`shape=${event.shape}`]),
    `bytes=${event.bytes}`,
    `preview="${event.preview}"`,
  ];
  return `Malformed telemetry ${fields.join(' ')}`;
}

function originFields(event: EventOrigin): string[] {
  return [
    `device=${token(event.deviceId)}`,
    ...(event.moduleId === undefined ? [] : [`module=${token(event.moduleId)}`]),
    `partition=${token(event.partitionId)}`,
    `seq=${token(event.sequenceNumber)}`,
    `enqueued=${token(event.enqueuedTime)}`,
  ];
}

/**
 * One value of a log line: `-` when absent, bare when it is printable ASCII without spaces or quotes, otherwise a
 * JSON-style quoted string, so that a line always splits on spaces into `key=value` fields.
 */
function token(value: string | number | boolean | null | undefined): string {
  if (value === undefined || value === null) return '-';
  const text = String(value);
  return /^[\x21-\x7e]+$/.test(text) && !text.includes('"') && text !== '-'
    ? text
    : `"${escapeForLog(text)}"`;
}

export const deviceTelemetry = createDeviceTelemetryHandler();

// `dataType: 'string'` is a real binding property the v4 types do not declare. Without it, a batch
// (cardinality 'many') holding a body that is not JSON fails in the host before the handler runs; as strings,
// every body reaches the handler, which judges each one itself. Extra trigger fields pass through to the host.
const options: EventHubFunctionOptions & { readonly dataType: 'string' } = {
  connection: 'IOTHUB_EVENTS_CONNECTION',
  eventHubName: '%IOTHUB_EVENTS_HUB_NAME%',
  consumerGroup: '%IOTHUB_EVENTS_CONSUMER_GROUP%',
  cardinality: 'many',
  dataType: 'string',
  handler: deviceTelemetry,
};

app.eventHub('deviceTelemetry', options);
