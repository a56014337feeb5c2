import type { Delivery, Message } from 'rhea';
import { HubError, hubErrors } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import type { AmqpDeviceConnection } from './amqp-device-connection';
import { amqpConditionOf } from './iothub-claims';
import type { IotHubAddress } from './iothub-addresses';
import {
  incomingTelemetry,
  methodResponse,
  twinRequest,
  twinResponse,
  type TwinRequest,
} from './iothub-messages';

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
    } else if (address.kind === 'device-twin') {
      delivery.accept();
      this.twin(device, twinRequest(message)).catch((error: unknown) => {
        // A failed write (the disk): the device gets IoT Hub's 500 and may retry; the emulator goes on.
        this.log.warn(
          `device ${JSON.stringify(device.deviceId)}'s twin request failed: ${(error as Error).message}`,
        );
        device.answerTwinRequest(twinResponse(twinRequest(message).correlationId, 500));
      });
    } else {
      delivery.reject({ condition: 'amqp:not-allowed', description: 'This link takes no messages.' });
    }
  }

  /**
   * A request on the twin link (azure-iot-device-amqp's twin client): GET the twin, PATCH reported properties,
   * PUT or DELETE the desired-property notifications; answered on the device's twin receiver with the request's
   * correlation id and a `status` annotation, as IoT Hub does.
   */
  private async twin(device: AmqpDeviceConnection, request: TwinRequest): Promise<void> {
    const { operation, resource, correlationId } = request;
    const answer = (status: number, body?: Buffer, version?: number) => {
      device.answerTwinRequest(twinResponse(correlationId, status, body, version));
    };
    if (operation === 'GET' && resource === undefined) {
      const read = this.hub.twins.readForDevice(device.deviceId);
      answer(read.status, 'body' in read ? read.body : undefined);
    } else if (operation === 'PATCH' && resource === '/properties/reported') {
      const reported = await this.hub.twins.reportFromDevice(device.deviceId, request.body);
      if (reported.status === 204) answer(204, undefined, reported.version);
      else answer(reported.status, reported.body);
    } else if (
      resource === '/notifications/twin/properties/desired' &&
      (operation === 'PUT' || operation === 'DELETE')
    ) {
      device.desiredUpdatesWanted = operation === 'PUT';
      answer(200);
    } else {
      const error = hubErrors.argumentInvalid(
        `The twin operation ${JSON.stringify(operation.slice(0, 20))} on ${JSON.stringify(resource?.slice(0, 80) ?? '(the twin)')} is not supported.`,
      );
      answer(400, Buffer.from(JSON.stringify({ errorCode: error.errorCode, message: error.message })));
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
