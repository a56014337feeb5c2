import { message as rheaMessage, types, uuid_to_string, type Message } from 'rhea';
import type { AckMode, CloudToDeviceMessage, NewCloudToDeviceMessage } from '../../hub/c2d/cloud-to-device';
import type { FeedbackBatch } from '../../hub/c2d/feedback';
import type { IncomingMessage } from '../../hub/hub';
import { clientInteger } from './client-values';

/**
 * Conversions between AMQP messages and the hub core's messages, as the SDKs write and read them
 * (azure-iot-amqp-base's AmqpMessage): bodies in a data section, ids that look like UUIDs sent as AMQP uuids,
 * user properties as application properties.
 */

/** The bytes of a message body: a data section (what the SDKs send), raw binary, or text. */
export function bodyBytes(body: unknown): Buffer | undefined {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  const content = (body as { content?: unknown } | null | undefined)?.content;
  if (Buffer.isBuffer(content)) return content;
  if (body === undefined || body === null) return Buffer.alloc(0);
  return undefined;
}

/** A message id or correlation id as text: AMQP uuids (16 bytes) in their usual form, numbers in decimal. */
export function idText(id: unknown): string | undefined {
  if (id === undefined || id === null) return undefined;
  if (Buffer.isBuffer(id)) return id.length === 16 ? uuid_to_string(id) : id.toString('utf8');
  if (typeof id === 'string') return id;
  if (typeof id === 'number' || typeof id === 'bigint') return id.toString();
  return undefined;
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return value.toString();
  return JSON.stringify(value);
}

/** Application properties as IoT Hub keeps them: text values, in an object without a prototype. */
function textProperties(properties: unknown, skip: ReadonlySet<string> = new Set()): Record<string, string> {
  const result = Object.create(null) as Record<string, string>;
  if (typeof properties !== 'object' || properties === null) return result;
  for (const [name, value] of Object.entries(properties as Record<string, unknown>)) {
    const valueText = text(value);
    if (valueText !== undefined && !skip.has(name)) result[name] = valueText;
  }
  return result;
}

/** A device's telemetry message; undefined when its body is neither binary, text nor a data section. */
export function incomingTelemetry(message: Message): IncomingMessage | undefined {
  const body = bodyBytes(message.body);
  if (!body) return undefined;
  const system = Object.create(null) as Record<string, string>;
  const put = (name: string, value: string | undefined) => {
    if (value !== undefined) system[name] = value;
  };
  put('messageId', idText(message.message_id));
  put('correlationId', idText(message.correlation_id));
  put('userId', text(message.user_id));
  put('to', text(message.to));
  put('contentType', text(message.content_type));
  put('contentEncoding', text(message.content_encoding));
  put('absoluteExpiryTime', text(message.absolute_expiry_time));
  return {
    body,
    systemProperties: system,
    applicationProperties: textProperties(message.application_properties),
  };
}

const ACK_MODES: ReadonlySet<string> = new Set(['none', 'positive', 'negative', 'full']);

/** Why a service's cloud-to-device message cannot be queued as sent. */
export class InvalidCloudToDeviceMessage extends Error {}

/** A service's cloud-to-device message (azure-iothub Client.send), for the hub's queue. */
export function newCloudToDeviceMessage(message: Message): NewCloudToDeviceMessage {
  const body = bodyBytes(message.body);
  if (!body)
    throw new InvalidCloudToDeviceMessage('The message body must be binary (a data section) or text.');
  const properties = textProperties(message.application_properties, new Set(['iothub-ack']));
  const ackText = text(
    (message.application_properties as Record<string, unknown> | undefined)?.['iothub-ack'],
  );
  const ack = (ackText ?? 'none').toLowerCase();
  if (!ACK_MODES.has(ack)) {
    throw new InvalidCloudToDeviceMessage(
      `iothub-ack must be none, positive, negative or full, not ${JSON.stringify(ackText?.slice(0, 40))}.`,
    );
  }
  const expiry: unknown = message.absolute_expiry_time;
  const expiryTimeMs =
    expiry instanceof Date ? expiry.getTime() : typeof expiry === 'number' ? expiry : undefined;
  const fields: Record<string, string> = {};
  for (const [name, value] of [
    ['messageId', idText(message.message_id)],
    ['correlationId', idText(message.correlation_id)],
    ['userId', text(message.user_id)],
    ['contentType', text(message.content_type)],
    ['contentEncoding', text(message.content_encoding)],
  ] as const) {
    if (value !== undefined) fields[name] = value;
  }
  return {
    ...fields,
    ...(expiryTimeMs === undefined || Number.isNaN(expiryTimeMs) ? {} : { expiryTimeMs }),
    ack: ack as AckMode,
    properties,
    body,
  };
}

/** A queued message as IoT Hub delivers it to an AMQP device. */
export function deviceBoundMessage(message: CloudToDeviceMessage): Message {
  const amqp: Message = {
    body: rheaMessage.data_section(message.body) as unknown,
    to: message.to,
    absolute_expiry_time: new Date(message.expiryTimeMs),
    creation_time: new Date(message.enqueuedTimeMs),
    application_properties: { ...message.properties, 'iothub-ack': message.ack },
    message_annotations: {
      'iothub-enqueuedtime': types.wrap_timestamp(message.enqueuedTimeMs),
      'iothub-deliverycount': types.wrap_int(message.deliveryCount),
    },
  };
  if (message.messageId !== undefined) amqp.message_id = message.messageId;
  if (message.correlationId !== undefined) amqp.correlation_id = message.correlationId;
  if (message.userId !== undefined) amqp.user_id = Buffer.from(message.userId, 'utf8') as unknown as string;
  if (message.contentType !== undefined) amqp.content_type = message.contentType;
  if (message.contentEncoding !== undefined) amqp.content_encoding = message.contentEncoding;
  return amqp;
}

/** A batch of feedback records as the feedback receiver gets it. */
export function feedbackMessage(batch: FeedbackBatch, hostName: string): Message {
  return {
    body: rheaMessage.data_section(Buffer.from(JSON.stringify(batch.records), 'utf8')) as unknown,
    message_id: batch.lockToken,
    content_type: 'application/vnd.microsoft.iothub.feedback.json',
    content_encoding: 'utf-8',
    user_id: Buffer.from(hostName.split('.')[0] ?? hostName, 'utf8') as unknown as string,
    to: '/messages/servicebound/feedback',
    creation_time: new Date(batch.enqueuedTimeMs),
    absolute_expiry_time: new Date(batch.expiryTimeMs),
  };
}

/** A direct-method request on the device's methods link. */
export function methodRequestMessage(methodName: string, requestId: string, body: Buffer): Message {
  return {
    body: rheaMessage.data_section(body) as unknown,
    correlation_id: requestId,
    application_properties: { 'IoThub-methodname': methodName },
  };
}

/** A device's answer on its methods link: the request id, the status and the payload, or undefined if malformed. */
export function methodResponse(
  message: Message,
): { readonly requestId: string; readonly status: number; readonly payload: Buffer } | undefined {
  const requestId = idText(message.correlation_id);
  const status = clientInteger(
    (message.application_properties as Record<string, unknown> | undefined)?.['IoThub-status'],
  );
  const payload = bodyBytes(message.body);
  if (requestId === undefined || status === undefined || !payload) return undefined;
  return { requestId, status, payload };
}

/** A desired-property change pushed on the twin link: the body and the new desired `$version` as an annotation. */
export function desiredPropertiesMessage(body: Buffer, version: number): Message {
  return {
    body: rheaMessage.data_section(body) as unknown,
    message_annotations: { version: types.wrap_long(version) },
  };
}

/** A twin request on the device's twin link: its operation, resource and correlation id, as the SDK writes them. */
export interface TwinRequest {
  readonly operation: string;
  readonly resource: string | undefined;
  readonly correlationId: string | undefined;
  readonly body: Buffer;
}

export function twinRequest(message: Message): TwinRequest {
  const annotations = (message.message_annotations ?? {}) as Record<string, unknown>;
  return {
    operation: typeof annotations.operation === 'string' ? annotations.operation.toUpperCase() : '',
    resource: typeof annotations.resource === 'string' ? annotations.resource : undefined,
    correlationId: idText(message.correlation_id),
    body: bodyBytes(message.body) ?? Buffer.alloc(0),
  };
}

/** The answer to a twin request: the status (and version) as annotations, a body when there is one. */
export function twinResponse(
  correlationId: string | undefined,
  status: number,
  body?: Buffer,
  version?: number,
): Message {
  const annotations: Record<string, unknown> = { status: types.wrap_int(status) };
  if (version !== undefined) annotations.version = types.wrap_long(version);
  // No body section at all when there is nothing to say (a 204): the SDK reads a body only when one is there.
  const message = { message_annotations: annotations } as Message;
  if (correlationId !== undefined) message.correlation_id = correlationId;
  if (body !== undefined && body.length > 0) message.body = rheaMessage.data_section(body) as unknown;
  return message;
}
