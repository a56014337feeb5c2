import type { Client, PublishPacket } from 'aedes' with { 'resolution-mode': 'import' };
import type { DeviceConnection, MethodRequest, TransportName } from '../../hub/connections/device-connection';
import type { CloudToDeviceMessage } from '../../hub/c2d/cloud-to-device';
import {
  cloudToDeviceSubscription,
  cloudToDeviceTopic,
  DESIRED_PROPERTIES_SUBSCRIPTION,
  desiredPropertiesTopic,
  METHODS_SUBSCRIPTION,
  methodRequestTopic,
} from './topics';

/** A device or module connected over MQTT (an aedes client), as the hub core sees it. */
export class MqttDeviceConnection implements DeviceConnection {
  readonly transport: TransportName = 'mqtt';

  /**
   * The cloud-to-device message delivered and not acknowledged yet: one at a time, so that a PUBACK settles the
   * message it answers without the broker's packet ids.
   */
  private inFlight: string | undefined;

  /** `deviceId` and `moduleId` come from the client id (`<d>` or `<d>/<m>`), as authenticated. */
  constructor(
    readonly client: Client,
    readonly deviceId: string,
    readonly moduleId?: string,
  ) {}

  acceptsMethods(): boolean {
    return hasSubscription(this.client, METHODS_SUBSCRIPTION);
  }

  /** Sends a direct-method request, QoS 0 as IoT Hub does. */
  sendMethodRequest(request: MethodRequest): boolean {
    if (this.client.closed) return false;
    this.publish(methodRequestTopic(request.methodName, request.requestId), request.body);
    return true;
  }

  /** Publishes to the device (QoS 0); write errors close the connection, which fails what waited on it. */
  publish(topic: string, payload: Buffer): void {
    this.client.publish(publishPacket(topic, payload), ignoreWriteError);
  }

  acceptsCloudToDevice(): boolean {
    return (
      this.moduleId === undefined &&
      this.inFlight === undefined &&
      !this.client.closed &&
      hasSubscription(this.client, cloudToDeviceSubscription(this.deviceId))
    );
  }

  /** Sends the message QoS 1, as IoT Hub does: the device's PUBACK completes it. */
  deliverCloudToDevice(message: CloudToDeviceMessage): void {
    this.inFlight = message.lockToken;
    this.client.publish(
      {
        cmd: 'publish',
        topic: cloudToDeviceTopic(this.deviceId, message),
        payload: message.body,
        qos: 1,
        retain: false,
        dup: false,
      },
      ignoreWriteError,
    );
  }

  /** Publishes a desired-property change (QoS 0, as IoT Hub does) when the device subscribed to them. */
  sendDesiredPropertiesPatch(body: Buffer, version: number): boolean {
    if (this.client.closed || !hasSubscription(this.client, DESIRED_PROPERTIES_SUBSCRIPTION)) return false;
    this.publish(desiredPropertiesTopic(version), body);
    return true;
  }

  unsettledCloudToDevice(): readonly string[] {
    return this.inFlight === undefined ? [] : [this.inFlight];
  }

  /** The device acknowledged the message in flight; returns its lock token. */
  acknowledged(): string | undefined {
    const lockToken = this.inFlight;
    this.inFlight = undefined;
    return lockToken;
  }

  close(): void {
    this.client.close();
  }
}

function hasSubscription(client: Client, filter: string): boolean {
  const subscriptions = (client as Client & { subscriptions?: Record<string, unknown> }).subscriptions;
  return !!subscriptions && Object.prototype.hasOwnProperty.call(subscriptions, filter);
}

function publishPacket(topic: string, payload: Buffer): PublishPacket {
  return { cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false };
}

/** aedes requires a callback; a failed write closes the connection by itself. */
function ignoreWriteError(): void {
  // nothing to do
}
