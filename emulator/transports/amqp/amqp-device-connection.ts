import type { Connection, Delivery, Message, Receiver, Sender, Session } from 'rhea';
import type { DeviceSession } from '../../hub/auth/device-auth';
import type { CloudToDeviceMessage } from '../../hub/c2d/cloud-to-device';
import type { DeviceConnection, MethodRequest, TransportName } from '../../hub/connections/device-connection';
import { desiredPropertiesMessage, deviceBoundMessage, methodRequestMessage } from './iothub-messages';

/** The device links a connection may hold, by role. */
export type DeviceLinkRole =
  'telemetry' | 'c2d' | 'method-requests' | 'method-responses' | 'twin-requests' | 'twin-responses';

/**
 * A device on IoT Hub's AMQP endpoint, as the hub core sees it: the links of one device on one AMQP connection
 * (telemetry in, cloud-to-device out, the paired method links, the twin links). The device is connected while it
 * holds at least one link.
 */
export class AmqpDeviceConnection implements DeviceConnection {
  readonly transport: TransportName = 'amqp';
  private readonly links = new Set<Sender | Receiver>();
  private c2dSender: Sender | undefined;
  private methodSender: Sender | undefined;
  private methodReceiver: Receiver | undefined;
  private twinSender: Sender | undefined;
  /** Whether the device asked for desired-property changes (PUT `/notifications/twin/properties/desired`). */
  desiredUpdatesWanted = false;
  /** Cloud-to-device deliveries not settled by the device yet, with the lock token of each message. */
  private readonly unsettled = new Map<Delivery, string>();

  constructor(
    readonly deviceId: string,
    readonly connection: Connection,
    /** The session the device's links rest on; a renewed token replaces it. */
    public session: DeviceSession,
  ) {}

  /** Adds a link of the device; for methods, the link of each direction. */
  addLink(role: DeviceLinkRole, link: Sender | Receiver): void {
    this.links.add(link);
    if (role === 'c2d') this.c2dSender = link as Sender;
    if (role === 'method-requests') this.methodSender = link as Sender;
    if (role === 'method-responses') this.methodReceiver = link as Receiver;
    if (role === 'twin-responses') this.twinSender = link as Sender;
  }

  /** Forgets a closed link; true when the device holds no link any more. */
  removeLink(link: Sender | Receiver): boolean {
    this.links.delete(link);
    if (link === this.c2dSender) this.c2dSender = undefined;
    if (link === this.methodSender) this.methodSender = undefined;
    if (link === this.methodReceiver) this.methodReceiver = undefined;
    if (link === this.twinSender) {
      this.twinSender = undefined;
      this.desiredUpdatesWanted = false;
    }
    return this.links.size === 0;
  }

  /** The device's links on `session`, for a client that ends its session without detaching them. */
  linksOf(session: Session | undefined): (Sender | Receiver)[] {
    return [...this.links].filter((link) => link.session === session);
  }

  holds(link: Sender | Receiver): boolean {
    return this.links.has(link);
  }

  acceptsMethods(): boolean {
    return isOpen(this.methodSender) && isOpen(this.methodReceiver);
  }

  sendMethodRequest(request: MethodRequest): boolean {
    const sender = this.methodSender;
    if (!sender || !isOpen(sender)) return false;
    sender.send(methodRequestMessage(request.methodName, request.requestId, request.body));
    return true;
  }

  /** Answers a twin request on the device's twin link; false when the link is gone. */
  answerTwinRequest(answer: Message): boolean {
    const sender = this.twinSender;
    if (!sender || !isOpen(sender)) return false;
    sender.send(answer);
    return true;
  }

  /** A desired-property change, as IoT Hub sends it on the twin link: no correlation id, the patch as the body. */
  sendDesiredPropertiesPatch(body: Buffer, version: number): boolean {
    if (!this.desiredUpdatesWanted) return false;
    return this.answerTwinRequest(desiredPropertiesMessage(body, version));
  }

  acceptsCloudToDevice(): boolean {
    const sender = this.c2dSender;
    return sender !== undefined && isOpen(sender) && sender.sendable();
  }

  deliverCloudToDevice(message: CloudToDeviceMessage): void {
    if (!this.c2dSender || message.lockToken === undefined) return;
    const delivery = this.c2dSender.send(deviceBoundMessage(message));
    this.unsettled.set(delivery, message.lockToken);
  }

  unsettledCloudToDevice(): readonly string[] {
    return [...this.unsettled.values()];
  }

  /** The lock token of a cloud-to-device delivery the device settled, forgotten from now on. */
  settled(delivery: Delivery): string | undefined {
    const lockToken = this.unsettled.get(delivery);
    this.unsettled.delete(delivery);
    return lockToken;
  }

  /**
   * Ends the device's session from the hub's side: its links are detached with the reason, as IoT Hub does when a
   * token expires or the identity is revoked (the SDKs then reconnect with a fresh token, or give up).
   */
  close(reason: string): void {
    for (const link of this.links) {
      if (isOpen(link)) link.close({ condition: 'amqp:link:detach-forced', description: reason });
    }
  }
}

function isOpen(link: Sender | Receiver | undefined): boolean {
  return link !== undefined && link.is_open() && !link.is_closed();
}
