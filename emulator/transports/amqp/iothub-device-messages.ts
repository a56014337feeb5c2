import type { Delivery, Message } from 'rhea';
import { HubError } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import type { AmqpDeviceConnection } from './amqp-device-connection';
import { amqpConditionOf } from './iothub-claims';
import type { IotHubAddress } from './iothub-addresses';
import { incomingTelemetry, methodResponse } from './iothub-messages';

/** How a device settled a cloud-to-device delivery. */
export type Outcome = 'accepted' | 'rejected' | 'released' | 'modified';

/**
 * What devices send on IoT Hub's AMQP endpoint, one handler per link kind: telemetry (accepted once durable,
 * as a PUBACK is over MQTT), method answers; and how their settlements of cloud-to-device messages map to the
 * hub's complete (accepted), reject (rejected) and abandon (released, modified).
 */
export class DeviceMessageHandler {
  constructor(
    private readonly hub: IotHub,
    private readonly log: Logger,
  ) {}

  handle(device: AmqpDeviceConnection, address: IotHubAddress, message: Message, delivery: Delivery): void {
    if (address.kind === 'device-telemetry') {
      this.telemetry(device, message, delivery);
    } else if (address.kind === 'device-methods') {
      const response = methodResponse(message);
      if (!response) {
        delivery.reject({
          condition: 'amqp:invalid-field',
          description:
            'A method response needs a correlation id (the request id) and an integer IoThub-status.',
        });
        return;
      }
      this.hub.methods.respond(device.deviceId, response.requestId, response.status, response.payload);
      delivery.accept();
    } else {
      delivery.reject({ condition: 'amqp:not-allowed', description: 'This link takes no messages.' });
    }
  }

  settled(device: AmqpDeviceConnection, delivery: Delivery, outcome: Outcome): void {
    const lockToken = device.settled(delivery);
    if (lockToken === undefined) return;
    const queues = this.hub.cloudToDevice;
    try {
      if (outcome === 'accepted') queues.complete(device.deviceId, lockToken);
      else if (outcome === 'rejected') queues.reject(device.deviceId, lockToken);
      else queues.abandon(device.deviceId, lockToken);
    } catch (error) {
      this.log.warn(
        `device ${JSON.stringify(device.deviceId)} settled a message too late (${outcome}): ${(error as Error).message}`,
      );
    }
    this.hub.connections.cloudToDeviceReady(device);
  }

  private telemetry(device: AmqpDeviceConnection, message: Message, delivery: Delivery): void {
    const incoming = incomingTelemetry(message);
    if (!incoming) {
      delivery.reject({
        condition: 'amqp:decode-error',
        description: 'The message body must be a data section, binary or text.',
      });
      return;
    }
    this.hub.receiveTelemetry(device.session, incoming).then(
      () => {
        delivery.accept();
      },
      (error: unknown) => {
        const hubError = error instanceof HubError ? error : undefined;
        this.log.warn(
          `device ${JSON.stringify(device.deviceId)}'s message refused: ${(error as Error).message}`,
        );
        delivery.reject({
          condition: hubError ? amqpConditionOf(hubError) : 'amqp:internal-error',
          description: (error as Error).message,
        });
      },
    );
  }
}
