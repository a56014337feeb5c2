import { message as rheaMessage, types, type Message } from 'rhea';
import type { PartitionProperties } from '../../hub/telemetry/partition-log';
import type { TelemetryEvent } from '../../hub/telemetry/record';

/** What IoT Hub writes in `iothub-connection-auth-method` for a device authenticated with a SAS key. */
const SAS_AUTH_METHOD = JSON.stringify({
  scope: 'device',
  type: 'sas',
  issuer: 'iothub',
  acceptingIpFilterRule: null,
});

/**
 * An event as IoT Hub's Event Hub-compatible endpoint delivers it: the body unchanged in a data section, the
 * device's system properties as AMQP properties, its user properties as application properties, and the
 * annotations IoT Hub and Event Hubs add. Types are explicit where a client casts (long, timestamp).
 */
export function toAmqpMessage(event: TelemetryEvent): Message {
  const system = event.systemProperties;
  const message: Message = {
    body: rheaMessage.data_section(event.body) as unknown,
    message_annotations: {
      'iothub-connection-device-id': event.deviceId,
      'iothub-connection-auth-method': SAS_AUTH_METHOD,
      'iothub-connection-auth-generation-id': event.authGenerationId,
      'iothub-enqueuedtime': types.wrap_timestamp(event.enqueuedTimeUtc.getTime()),
      'iothub-message-source': 'Telemetry',
      'x-opt-sequence-number': types.wrap_long(event.sequenceNumber),
      'x-opt-offset': event.offset,
      'x-opt-enqueued-time': types.wrap_timestamp(event.enqueuedTimeUtc.getTime()),
    },
    application_properties: { ...event.applicationProperties },
  };
  // Keys as the MQTT front names them (emulator/mqtt/topics.ts), from the device's `$.mid`, `$.cid`, ...
  if (system.messageId !== undefined) message.message_id = system.messageId;
  if (system.correlationId !== undefined) message.correlation_id = system.correlationId;
  if (system.contentType !== undefined) message.content_type = system.contentType;
  if (system.contentEncoding !== undefined) message.content_encoding = system.contentEncoding;
  // Binary on the wire: rhea sizes a string by its characters, not its UTF-8 bytes, so give it the bytes.
  if (system.userId !== undefined) message.user_id = Buffer.from(system.userId, 'utf8') as unknown as string;
  if (system.to !== undefined) message.to = system.to;
  return message;
}

/** The delivery annotations a receiver asked for with `com.microsoft:enable-receiver-runtime-metric`. */
export function runtimeMetrics(properties: PartitionProperties): Record<string, unknown> {
  return {
    last_enqueued_sequence_number: types.wrap_long(properties.lastEnqueuedSequenceNumber),
    last_enqueued_offset: properties.lastEnqueuedOffset,
    last_enqueued_time_utc: types.wrap_timestamp(properties.lastEnqueuedTimeUtc.getTime()),
    runtime_info_retrieval_time_utc: types.wrap_timestamp(Date.now()),
  };
}
