import type { EventStore } from '../hub/telemetry/event-store';
import type { TelemetryEvent } from '../hub/telemetry/record';
import { TELEMETRY_PREVIEW_BYTES, type TelemetryItem } from './api-types';

/** Numeric fields a chart can draw at most; more would be unreadable anyway. */
const MAX_FIELDS = 16;
const MAX_FIELD_NAME = 64;
const MAX_PROPERTIES = 32;
/** Bodies larger than this are not parsed for fields: the chart is for small JSON readings. */
const MAX_PARSED_BYTES = 16 * 1024;
/** Events looked at, at most, to find a device's recent ones in its partition (a bound on one request's work). */
const MAX_SCANNED = 5000;
const SCAN_STEP = 500;

/**
 * A device's message as the dashboard shows it: its top-level numeric fields (for the chart) and a preview of
 * the body as text. Never throws: a body that is not JSON, or not an object, simply has no fields.
 */
export function telemetryItem(event: TelemetryEvent): TelemetryItem {
  const bytes = event.body.length;
  const truncated = bytes > TELEMETRY_PREVIEW_BYTES;
  return {
    sequenceNumber: event.sequenceNumber,
    partitionId: event.partitionId,
    time: event.enqueuedTimeUtc.getTime(),
    fields: bytes <= MAX_PARSED_BYTES ? numericFields(event.body) : {},
    body: event.body.subarray(0, TELEMETRY_PREVIEW_BYTES).toString('utf8'),
    truncated,
    bytes,
    properties: limitedProperties(event.applicationProperties),
  };
}

function numericFields(body: Buffer): Record<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return {};
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  // No prototype, so that a field named __proto__ is data like any other.
  const fields = Object.create(null) as Record<string, number>;
  let count = 0;
  for (const [name, field] of Object.entries(value)) {
    if (typeof field !== 'number' || !Number.isFinite(field) || name.length > MAX_FIELD_NAME) continue;
    fields[name] = field;
    if (++count >= MAX_FIELDS) break;
  }
  return fields;
}

function limitedProperties(properties: Readonly<Record<string, string>>): Record<string, string> {
  const limited = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(properties).slice(0, MAX_PROPERTIES)) {
    limited[name.slice(0, 128)] = value.slice(0, 512);
  }
  return limited;
}

/**
 * The device's last `limit` messages, oldest first, read from the hub's own telemetry log (no second copy): its
 * partition is scanned backwards from the newest event, in steps, over at most MAX_SCANNED events. The partition's
 * tail is in memory, so this rarely reads the disk; with many busy devices sharing the partition, fewer than
 * `limit` may come back.
 */
export function recentTelemetry(store: EventStore, deviceId: string, limit: number): TelemetryItem[] {
  const partition = store.partitions[store.partitionOf(deviceId)];
  if (!partition) return [];
  const properties = partition.properties();
  if (properties.isEmpty) return [];
  const begin = properties.beginSequenceNumber;
  const found: TelemetryEvent[] = [];
  let end = properties.lastEnqueuedSequenceNumber + 1;
  let scanned = 0;
  while (end > begin && found.length < limit && scanned < MAX_SCANNED) {
    const from = Math.max(begin, end - SCAN_STEP);
    const batch = partition.read(from, end - from).filter((event) => event.deviceId === deviceId);
    found.unshift(...batch);
    scanned += end - from;
    end = from;
  }
  return found.slice(-limit).map(telemetryItem);
}
