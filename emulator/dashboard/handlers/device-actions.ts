import { parseCloudToDeviceRequest } from '../../../src/lib/c2d-request';
import { checkMethodInvocation } from '../../../src/lib/method-invocation';
import { hubErrors } from '../../hub/errors';
import type { ServiceTwinJson } from '../../hub/twins/twin-views';
import type { JsonValue, MethodReply, TwinReply } from '../api-types';
import { dashboardErrors } from '../errors';
import { parseJsonObject, readBodyText } from '../http/request-body';
import type { Reply, Route, RouteContext } from '../http/route';
import { deviceOf } from './device-param';

/**
 * `POST /api/devices/{id}/methods`: a direct method, checked by the same rules as the service API and the function
 * (src/lib/method-invocation), run by the hub's dispatcher, answered with the device's status, payload and time.
 */
async function invokeMethod({ services, params, request }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const fields = parseJsonObject(await readBodyText(request), [
    'methodName',
    'payload',
    'responseTimeoutInSeconds',
    'connectTimeoutInSeconds',
  ]);
  const check = checkMethodInvocation(fields);
  if (!check.ok)
    throw dashboardErrors.invalid(check.problem.field, check.problem.message, check.problem.code);
  if (record.status !== 'enabled') throw hubErrors.deviceNotFound(record.deviceId);
  const started = performance.now();
  const result = await services.hub.methods.invoke(record.deviceId, check.invocation);
  const reply: MethodReply = {
    status: result.status,
    payload: result.payload as JsonValue,
    durationMs: Math.round((performance.now() - started) * 10) / 10,
  };
  return { status: 200, body: reply };
}

/**
 * `POST /api/devices/{id}/messages`: a cloud-to-device message in the body the function's C2D route takes
 * (src/lib/c2d-request: payload or body, properties, ack, TTL, ids), queued by the hub. Its fate arrives on the
 * stream as a `c2d-settled` event with its message id.
 */
async function sendMessage({ services, params, request }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const message = parseCloudToDeviceRequest({ deviceId: record.deviceId }, await readBodyText(request));
  await services.hub.sendCloudToDevice(record.deviceId, {
    messageId: message.messageId,
    correlationId: message.correlationId,
    contentType: message.contentType,
    contentEncoding: message.contentEncoding,
    expiryTimeMs: message.expiryTimeUtc?.getTime(),
    ack: message.ack,
    properties: message.properties,
    body: message.body,
  });
  services.model.publish({
    kind: 'c2d-sent',
    deviceId: record.deviceId,
    messageId: message.messageId,
    summary: `cloud-to-device message ${message.messageId} queued (${message.body.length} bytes)`,
  });
  return { status: 202, body: { messageId: message.messageId } };
}

function readTwin({ services, params }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  return Promise.resolve({ status: 200, body: twinReply(services.hub.twins.read(record.deviceId)) });
}

/**
 * `PATCH /api/devices/{id}/twin {desired?, tags?, etag?}`: merged as the service API's twin PATCH is (null deletes),
 * with IoT Hub's twin rules applied by the hub; with `etag`, refused (412) when someone changed the twin since.
 */
async function updateTwin({ services, params, request }: RouteContext): Promise<Reply> {
  const record = deviceOf(services.hub, params);
  const fields = parseJsonObject(await readBodyText(request), ['desired', 'tags', 'etag']);
  if (fields.desired === undefined && fields.tags === undefined) {
    throw dashboardErrors.invalid('desired', 'Give desired properties or tags to change.', 'MissingField');
  }
  if (fields.etag !== undefined && (typeof fields.etag !== 'string' || fields.etag.length > 128)) {
    throw dashboardErrors.invalid('etag', 'etag must be the twin etag as text.');
  }
  const change = {
    ...(fields.tags === undefined ? {} : { tags: fields.tags }),
    ...(fields.desired === undefined ? {} : { properties: { desired: fields.desired } }),
  };
  const twin = await services.hub.twins.update(record.deviceId, change, fields.etag);
  const reply = twinReply(twin);
  if (fields.desired !== undefined) {
    const given = reply.properties.desired.$version;
    const version = typeof given === 'number' ? given : 0;
    services.model.publish({
      kind: 'twin-desired-changed',
      deviceId: record.deviceId,
      version,
      summary: `desired properties changed (version ${version})`,
    });
  }
  return { status: 200, body: reply };
}

function twinReply(twin: ServiceTwinJson): TwinReply {
  return {
    deviceId: twin.deviceId,
    etag: twin.etag,
    version: twin.version,
    tags: twin.tags,
    properties: { desired: twin.properties.desired, reported: twin.properties.reported },
  };
}

export const deviceActionRoutes: readonly Route[] = [
  { method: 'POST', path: 'devices/{deviceId}/methods', handle: invokeMethod },
  { method: 'POST', path: 'devices/{deviceId}/messages', handle: sendMessage },
  { method: 'GET', path: 'devices/{deviceId}/twin', handle: readTwin },
  { method: 'PATCH', path: 'devices/{deviceId}/twin', handle: updateTwin },
];
