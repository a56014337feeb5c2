import type { Connection, Delivery, Message, Receiver, Sender, Session } from 'rhea';
import { HubError } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import type { LinkRefusal } from './consumer-registry';
import type { Outcome } from './iothub-device-messages';
import { deviceIdOfC2dTarget } from './iothub-addresses';
import type { IotHubClaims } from './iothub-claims';
import { feedbackMessage, InvalidCloudToDeviceMessage, newCloudToDeviceMessage } from './iothub-messages';

type ServiceLinkKind = 'c2d' | 'feedback' | 'file-notifications';

/** How often the claims of service links are checked: a link whose claim expired unrenewed is closed. */
const CLAIM_CHECK_MS = 1000;

/**
 * The service side of IoT Hub's AMQP endpoint: the cloud-to-device sender (`/messages/devicebound`), the feedback
 * receiver (`/messages/serviceBound/feedback`) and the file-notification receiver. Each link needs a hub-level
 * claim of a policy with ServiceConnect; messages become hub calls, and the hub's answer settles them the way
 * azure-iothub reads it (rejected with an AMQP error condition it maps to DeviceNotFound, queue full, too large).
 */
export class ServiceLinks {
  private readonly links = new Map<Sender | Receiver, ServiceLinkKind>();
  /** Feedback batches delivered and not settled yet, with their lock tokens. */
  private readonly unsettledFeedback = new Map<Delivery, { sender: Sender; lockToken: string }>();
  private readonly claimCheck = setInterval(() => {
    this.recheckClaims();
  }, CLAIM_CHECK_MS).unref();

  constructor(
    private readonly hub: IotHub,
    private readonly claims: IotHubClaims,
    private readonly log: Logger,
  ) {
    hub.feedback.on('available', this.pumpFeedback);
  }

  admitCloudToDeviceSender(receiver: Receiver, connection: Connection): LinkRefusal | undefined {
    return this.admit(receiver, connection, 'c2d', ['messages', 'devicebound']);
  }

  admitFeedbackReceiver(sender: Sender, connection: Connection): LinkRefusal | undefined {
    const refusal = this.admit(sender, connection, 'feedback', ['messages', 'serviceBound', 'feedback']);
    // After rhea sends the attach: the client's credit arrives with its flow frame, and `sendable` pumps then.
    return refusal;
  }

  admitFileNotificationReceiver(sender: Sender, connection: Connection): LinkRefusal | undefined {
    return this.admit(sender, connection, 'file-notifications', [
      'messages',
      'serviceBound',
      'filenotifications',
    ]);
  }

  /** A service's cloud-to-device message: queued for the device named by `to`, or rejected with the reason. */
  onMessage(receiver: Receiver, message: Message, delivery: Delivery): void {
    if (this.links.get(receiver) !== 'c2d') {
      delivery.reject({ condition: 'amqp:not-allowed', description: 'This link takes no messages.' });
      return;
    }
    const deviceId = deviceIdOfC2dTarget(message.to);
    if (deviceId === undefined) {
      delivery.reject({
        condition: 'amqp:invalid-field',
        description:
          'A cloud-to-device message needs "to" = /devices/<url-encoded device id>/messages/devicebound.',
      });
      return;
    }
    let queued: Promise<void>;
    try {
      queued = this.hub.sendCloudToDevice(deviceId, newCloudToDeviceMessage(message));
    } catch (error) {
      this.rejectWith(delivery, error);
      return;
    }
    queued.then(
      () => {
        delivery.accept();
      },
      (error: unknown) => {
        this.rejectWith(delivery, error);
      },
    );
  }

  sendable(sender: Sender): void {
    if (this.links.get(sender) === 'feedback') this.pumpFeedback();
  }

  settled(sender: Sender, delivery: Delivery, outcome: Outcome): void {
    const entry = this.unsettledFeedback.get(delivery);
    if (entry?.sender !== sender) return;
    this.unsettledFeedback.delete(delivery);
    try {
      // A rejected batch is dead-lettered, as Service Bus does: it will not come back.
      if (outcome === 'accepted' || outcome === 'rejected') this.hub.feedback.complete(entry.lockToken);
      else this.hub.feedback.abandon(entry.lockToken);
    } catch (error) {
      this.log.warn(`feedback settled too late (${outcome}): ${(error as Error).message}`);
    }
    this.pumpFeedback();
  }

  forget(link: Sender | Receiver): void {
    if (!this.links.delete(link)) return;
    for (const [delivery, entry] of this.unsettledFeedback) {
      if (entry.sender !== link) continue;
      this.unsettledFeedback.delete(delivery);
      try {
        this.hub.feedback.abandon(entry.lockToken);
      } catch {
        // Its lock expired meanwhile: it is available again already.
      }
    }
  }

  forgetSession(session: Session | undefined): void {
    for (const link of [...this.links.keys()]) if (link.session === session) this.forget(link);
  }

  forgetConnection(connection: Connection): void {
    for (const link of [...this.links.keys()]) if (link.connection === connection) this.forget(link);
  }

  close(): void {
    clearInterval(this.claimCheck);
    this.hub.feedback.off('available', this.pumpFeedback);
  }

  /** Hands feedback batches to the feedback receivers that have credit, one batch per delivery. */
  private readonly pumpFeedback = (): void => {
    for (const [link, kind] of this.links) {
      if (kind !== 'feedback') continue;
      const sender = link as Sender;
      while (sender.is_open() && sender.sendable()) {
        const batch = this.hub.feedback.receive();
        if (!batch?.lockToken) return;
        const delivery = sender.send(feedbackMessage(batch, this.hub.hostName));
        this.unsettledFeedback.set(delivery, { sender, lockToken: batch.lockToken });
      }
    }
  };

  private admit(
    link: Sender | Receiver,
    connection: Connection,
    kind: ServiceLinkKind,
    resource: readonly string[],
  ): LinkRefusal | undefined {
    const caller = this.claims.serviceCaller(connection);
    if (!caller) {
      return {
        condition: 'amqp:unauthorized-access',
        description: `Unauthorized: put a token for ${this.hub.hostName} (a policy with ServiceConnect) on $cbs first.`,
      };
    }
    try {
      this.hub.authorizeService(caller, 'ServiceConnect', resource);
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      return { condition: 'amqp:unauthorized-access', description: error.message };
    }
    this.links.set(link, kind);
    return undefined;
  }

  private rejectWith(delivery: Delivery, error: unknown): void {
    if (error instanceof InvalidCloudToDeviceMessage) {
      delivery.reject({ condition: 'amqp:invalid-field', description: error.message });
      return;
    }
    if (!(error instanceof HubError)) {
      this.log.warn(`cloud-to-device message failed: ${(error as Error).message}`);
      delivery.reject({ condition: 'amqp:internal-error', description: 'The message could not be queued.' });
      return;
    }
    delivery.reject({ condition: c2dCondition(error), description: error.message });
  }

  private recheckClaims(): void {
    for (const link of [...this.links.keys()]) {
      if (this.claims.serviceCaller(link.connection)) continue;
      this.forget(link);
      if (link.is_open()) {
        link.close({ condition: 'amqp:unauthorized-access', description: 'The token of this link expired.' });
      }
    }
  }
}

/** The condition azure-iothub maps to the hub's error (its amqp service errors translation). */
function c2dCondition(error: HubError): string {
  if (error.codeName === 'DeviceMaximumQueueDepthExceeded') return 'amqp:resource-limit-exceeded';
  if (error.httpStatus === 404) return 'amqp:not-found';
  if (error.httpStatus === 413) return 'amqp:link:message-size-exceeded';
  if (error.httpStatus === 400) return 'amqp:invalid-field';
  return 'amqp:internal-error';
}
