import { generateKey } from '../../hub/keys';
import { authenticationTypeOf } from '../../hub/registry';
import { DEVICE_FILTERS, DEVICE_PAGE_MAX, type DeviceDetail } from '../api-types';
import { dashboardErrors } from '../errors';
import { choiceParam, integerParam, readQuery, textParam } from '../http/query';
import { parseJsonObject, readBodyText } from '../http/request-body';
import type { Reply, Route, RouteContext } from '../http/route';
import { choiceField, deviceOf } from './device-param';

const DEVICE_STATUSES = ['enabled', 'disabled'] as const;
const KEYS = ['primary', 'secondary'] as const;
const TRANSPORTS = ['mqtt', 'amqp'] as const;

function listDevices({ services, query }: RouteContext): Promise<Reply> {
  const { search, status, connection, offset, limit } = readQuery(query, {
    search: textParam(128),
    status: choiceParam(DEVICE_FILTERS.status),
    connection: choiceParam(DEVICE_FILTERS.connection),
    offset: integerParam(0, 100_000_000, 0),
    limit: integerParam(1, DEVICE_PAGE_MAX, 50),
  });
  const page = services.model.directory.page({ search, status, connection, offset, limit });
  return Promise.resolve({ status: 200, body: page });
}

/** `POST /api/devices {deviceId, status?}`: IoT Hub's rules for ids; 409 DeviceAlreadyExists for a taken one. */
async function createDevice({ services, request }: RouteContext): Promise<Reply> {
  const fields = parseJsonObject(await readBodyText(request), ['deviceId', 'status']);
  if (typeof fields.deviceId !== 'string') {
    throw dashboardErrors.invalid('deviceId', 'deviceId must be a string.', 'InvalidDeviceId');
  }
  const status = choiceField(fields, 'status', DEVICE_STATUSES, 'enabled');
  const { hub } = services;
  const { record } = hub.registry.put(fields.deviceId, { status });
  await hub.saveRegistry();
  return { status: 201, body: services.model.directory.row(record) };
}

function deviceDetail({ services, params }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const detail: DeviceDetail = {
    ...services.model.directory.row(record),
    generationId: record.generationId,
    statusReason: record.statusReason,
    maskedConnectionString: maskKey(services.connectionString(record.deviceId, 'primary', 'mqtt')),
  };
  return Promise.resolve({ status: 200, body: detail });
}

/** `PATCH /api/devices/{id} {status}`: enables or disables; disabling drops the device's connection. */
async function updateDevice({ services, params, request }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const fields = parseJsonObject(await readBodyText(request), ['status']);
  const status = choiceField(fields, 'status', DEVICE_STATUSES);
  const { record: updated } = services.hub.registry.put(record.deviceId, { status }, '*');
  await services.hub.saveRegistry();
  return { status: 200, body: services.model.directory.row(updated) };
}

async function deleteDevice({ services, params }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  services.hub.registry.delete(record.deviceId);
  await services.hub.saveRegistry();
  return { status: 204 };
}

/** `POST /api/devices/{id}/keys {key}`: a new primary or secondary key; connections with the old one are dropped. */
async function regenerateKey({ services, params, request }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const fields = parseJsonObject(await readBodyText(request), ['key']);
  const key = choiceField(fields, 'key', KEYS);
  // Regenerating would turn an X.509 device into a SAS one: refuse, and say why.
  if (authenticationTypeOf(record) !== 'sas') {
    throw dashboardErrors.invalid(
      'key',
      `Device ${JSON.stringify(record.deviceId)} authenticates with an X.509 certificate: it has no keys to regenerate.`,
      'NoKeys',
    );
  }
  const symmetricKey = {
    primaryKey: key === 'primary' ? generateKey() : record.primaryKey,
    secondaryKey: key === 'secondary' ? generateKey() : record.secondaryKey,
  };
  const { record: updated } = services.hub.registry.put(
    record.deviceId,
    { authentication: { type: 'sas', symmetricKey } },
    '*',
  );
  await services.hub.saveRegistry();
  return { status: 200, body: services.model.directory.row(updated) };
}

/**
 * `POST /api/devices/{id}/connection-string {key?, transport?}`: the one answer that holds a key, given only when
 * the user asks for it (a POST: never prefetched, cached or put in the history).
 */
async function revealConnectionString({ services, params, request }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const fields = parseJsonObject(await readBodyText(request), ['key', 'transport']);
  const key = choiceField(fields, 'key', KEYS, 'primary');
  const transport = choiceField(fields, 'transport', TRANSPORTS, 'mqtt');
  return {
    status: 200,
    body: { connectionString: services.connectionString(record.deviceId, key, transport) },
  };
}

/** The connection string as shown until asked: every key replaced by dots. */
export function maskKey(connectionString: string): string {
  return connectionString.replace(/SharedAccessKey=[^;]*/g, 'SharedAccessKey=••••••••••••');
}

export const deviceRoutes: readonly Route[] = [
  { method: 'GET', path: 'devices', handle: listDevices },
  { method: 'POST', path: 'devices', handle: createDevice },
  { method: 'GET', path: 'devices/{deviceId}', handle: deviceDetail },
  { method: 'PATCH', path: 'devices/{deviceId}', handle: updateDevice },
  { method: 'DELETE', path: 'devices/{deviceId}', handle: deleteDevice },
  { method: 'POST', path: 'devices/{deviceId}/keys', handle: regenerateKey },
  { method: 'POST', path: 'devices/{deviceId}/connection-string', handle: revealConnectionString },
];
