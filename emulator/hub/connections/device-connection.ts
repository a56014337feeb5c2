/** The transports a device connects with; each has a front under emulator/transports. */
export type TransportName = 'mqtt' | 'amqp';

import type { CloudToDeviceMessage } from '../c2d/cloud-to-device';

/** A direct-method request on its way to a device. */
export interface MethodRequest {
  readonly methodName: string;
  /** The hub's request id (`$rid`), which the device's answer carries back. */
  readonly requestId: string;
  /** The payload as JSON text. */
  readonly body: Buffer;
}

/**
 * One device's live connection, as the hub core sees it whatever carries it. A transport front creates one per
 * authenticated connection, hands it to the hub (ConnectedDevices.attach), and reports back through the hub what
 * the device sends (method answers, telemetry, twin requests).
 */
export interface DeviceConnection {
  readonly deviceId: string;
  /** Set for a module identity's connection (MQTT client id `<device>/<module>`); undefined for the device's own. */
  readonly moduleId?: string | undefined;
  readonly transport: TransportName;
  /** Whether a method request sent now would reach the device (MQTT: it subscribed to the method topic). */
  acceptsMethods(): boolean;
  /** Delivers a method request; false when the connection can no longer carry it. */
  sendMethodRequest(request: MethodRequest): boolean;
  /**
   * Whether the connection can take a cloud-to-device message now (MQTT: subscribed to its devicebound topic,
   * nothing in flight; AMQP: a receiver link with credit).
   */
  acceptsCloudToDevice(): boolean;
  /** Hands a locked message to the device; it settles through the hub with the message's lock token. */
  deliverCloudToDevice(message: CloudToDeviceMessage): void;
  /** Lock tokens of messages delivered on this connection and not settled yet. */
  unsettledCloudToDevice(): readonly string[];
  /**
   * Delivers a desired-properties change when the device listens for them (MQTT: subscribed to
   * `$iothub/twin/PATCH/properties/desired/#`); `body` is the JSON the device receives (the patch, or the whole
   * document for a replacement, with `$version`), `version` the desired properties' new `$version`. Returns false
   * when the device does not listen or the connection can no longer carry it: IoT Hub keeps nothing for later, the
   * device reads its twin when it listens again.
   */
  sendDesiredPropertiesPatch(body: Buffer, version: number): boolean;
  /** Ends the connection from the hub's side (token expired, device revoked, taken over). */
  close(reason: string): void;
}
