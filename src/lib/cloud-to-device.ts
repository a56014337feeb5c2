import { Message } from 'azure-iot-common';
import type { Client } from 'azure-iothub';
import type { CloudToDeviceRequest } from './c2d-request';
import { HubCallTimeoutError } from './error-mapping';

/**
 * How long a send may take: connecting, the CBS token, attaching the link and the hub's disposition. The SDK itself
 * would wait forever on a hub that accepts the connection and never settles the message.
 */
export const C2D_SEND_TIMEOUT_MS = 30_000;

/** The request as azure-iothub sends it: `Client.send` turns this Message into the AMQP message IoT Hub expects. */
export function cloudToDeviceMessage(request: CloudToDeviceRequest): Message {
  const message = new Message(request.body);
  message.messageId = request.messageId;
  if (request.correlationId !== undefined) message.correlationId = request.correlationId;
  // The SDK types these as a few literals; IoT Hub and the SDK's AMQP encoding take any string.
  const system = message as { contentType: string | undefined; contentEncoding: string | undefined };
  if (request.contentType !== undefined) system.contentType = request.contentType;
  if (request.contentEncoding !== undefined) system.contentEncoding = request.contentEncoding;
  // As milliseconds since the epoch: the AMQP stack under azure-iothub (rhea 1) encodes a timestamp only from a
  // number, and fails on a Date.
  if (request.expiryTimeUtc !== undefined) message.expiryTimeUtc = request.expiryTimeUtc.getTime();
  // 'none' is IoT Hub's default: leave the property off, as the SDK does.
  if (request.ack !== 'none') message.ack = request.ack;
  for (const [name, value] of Object.entries(request.properties)) message.properties.add(name, value);
  return message;
}

/**
 * Queues a cloud-to-device message on IoT Hub (over AMQP, as the service SDK sends them). Resolves once the hub has
 * accepted it, which is not delivery: the device gets it when connected, and `ack` asks for feedback on the fate.
 */
export async function sendCloudToDeviceMessage(client: Client, request: CloudToDeviceRequest): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new HubCallTimeoutError(
          `IoT Hub did not accept the message within ${C2D_SEND_TIMEOUT_MS / 1000} s; it may still be queued.`,
        ),
      );
    }, C2D_SEND_TIMEOUT_MS);
  });
  try {
    // azure-iothub types its own copy of azure-iot-common's Message (the same code); Client.send accepts any
    // object whose constructor is named Message, as this one is.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
    await Promise.race([client.send(request.deviceId, cloudToDeviceMessage(request)), guard]);
  } finally {
    clearTimeout(timer);
  }
}
