import { EVENT_KINDS, type EventKind, type HubEvent, type ListReply, type TelemetryItem } from '../api-types';
import { dashboardErrors } from '../errors';
import { choiceParam, integerParam, readQuery, textParam, type ParamReader } from '../http/query';
import type { Reply, Route, RouteContext } from '../http/route';
import { recentTelemetry } from '../telemetry-view';
import { deviceOf } from './device-param';

function hubSummary({ services, query }: RouteContext): Promise<Reply> {
  readQuery(query, {});
  return Promise.resolve({ status: 200, body: services.model.summary() });
}

/** `GET /api/events?limit=`: the hub's last events, oldest first. */
function recentEvents({ services, query }: RouteContext): Promise<Reply> {
  const { limit } = readQuery(query, { limit: integerParam(1, 1000, 500) });
  const body: ListReply<HubEvent> = { items: services.model.feed.recent(limit) };
  return Promise.resolve({ status: 200, body });
}

function deviceEvents({ services, params, query }: RouteContext): Promise<Reply> {
  readQuery(query, {});
  const record = deviceOf(services.hub, params);
  const body: ListReply<HubEvent> = { items: services.model.feed.forDevice(record.deviceId) };
  return Promise.resolve({ status: 200, body });
}

/** `GET /api/devices/{id}/telemetry?limit=`: the device's last messages, from the hub's telemetry log. */
function deviceTelemetry({ services, params, query }: RouteContext): Promise<Reply> {
  const { limit } = readQuery(query, { limit: integerParam(1, 500, 100) });
  const record = deviceOf(services.hub, params);
  const body: ListReply<TelemetryItem> = {
    items: recentTelemetry(services.hub.telemetry, record.deviceId, limit),
  };
  return Promise.resolve({ status: 200, body });
}

/** Kinds as a comma-separated list; `none` for no events at all (a page that wants only the stats). */
const kindsParam: ParamReader<ReadonlySet<EventKind> | undefined> = (value, name) => {
  if (value === undefined) return undefined;
  if (value === 'none') return new Set();
  const kinds = new Set<EventKind>();
  for (const item of value.split(',')) {
    const kind = EVENT_KINDS.find((candidate) => candidate === item);
    if (kind === undefined) {
      throw dashboardErrors.invalid(
        name,
        `${name} must list event kinds (${EVENT_KINDS.join(', ')}) or be none.`,
      );
    }
    kinds.add(kind);
  }
  return kinds;
};

/** `GET /api/stream?token=&device=&kinds=&stats=`: Server-Sent Events, filtered for the page that opens it. */
function openStream({ services, query, response }: RouteContext): Promise<Reply> {
  const { device, kinds, stats } = readQuery(query, {
    // The token is checked before any route; EventSource cannot send it in a header.
    token: textParam(128),
    device: textParam(128),
    kinds: kindsParam,
    stats: choiceParam(['false', 'true']),
  });
  if (device !== '') deviceOf(services.hub, { deviceId: device });
  services.stream.open(response, {
    deviceId: device === '' ? undefined : device,
    kinds,
    stats: stats === 'true',
  });
  return Promise.resolve({ streaming: true });
}

export const activityRoutes: readonly Route[] = [
  { method: 'GET', path: 'hub', handle: hubSummary },
  { method: 'GET', path: 'events', handle: recentEvents },
  { method: 'GET', path: 'stream', handle: openStream },
  { method: 'GET', path: 'devices/{deviceId}/events', handle: deviceEvents },
  { method: 'GET', path: 'devices/{deviceId}/telemetry', handle: deviceTelemetry },
];
