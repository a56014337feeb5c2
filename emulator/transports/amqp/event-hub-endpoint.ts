import type { EventContext, Receiver, Sender } from 'rhea';
import type { TlsMaterial } from '../../certificates';
import type { IotHub } from '../../hub/hub';
import type { TelemetryEvent } from '../../hub/telemetry/record';
import type { Logger } from '../../log';
import type { PendingConnectionLimits } from '../shared/pending-connections';
import { AmqpServer } from './amqp-server';
import { authorizeManagement, putToken } from './cbs';
import { ClaimStore } from './claims';
import { ConsumerRegistry, type LinkRefusal } from './consumer-registry';
import { readManagementRequest } from './management';
import type { PartitionConsumer } from './partition-consumer';
import { admitPartitionReceiver } from './partition-receivers';
import { acceptNodeLink, REQUEST_NODES, sendReply, type RequestReply } from './request-reply';
import { addressText } from './client-values';

export interface EventHubEndpointOptions {
  readonly host: string;
  /** Plain AMQP (the `UseDevelopmentEmulator=true` convention); 0 picks a free port. */
  readonly port: number;
  /** AMQP over TLS with the emulator's certificate; undefined to not listen. */
  readonly tlsPort: number | undefined;
  readonly tls: TlsMaterial;
  readonly hub: IotHub;
  /** Connections still opening (TLS, SASL, OPEN) at most, and how long each may take. */
  readonly pendingLimits: PendingConnectionLimits;
  readonly log: Logger;
}

/**
 * IoT Hub's built-in Event Hub-compatible endpoint, over AMQP 1.0: SASL ANONYMOUS and MSSBCBS, claims through
 * `$cbs`, `$management` READ, and one receiver link per consumer group and partition, fed from the hub's durable
 * telemetry log with credit-based flow. The endpoint is read-only, as IoT Hub's is.
 */
export class EventHubEndpoint {
  private readonly claims = new ClaimStore();
  /** Every partition receiver, filed by consumer group and partition (with Event Hubs' epoch rules). */
  private readonly receivers = new ConsumerRegistry<PartitionConsumer>();
  /** Links whose claim expires without renewal are closed, as Event Hubs does, idle or not. */
  private readonly claimCheck = setInterval(() => {
    for (const receiver of this.receivers.all()) receiver.recheckAccess();
  }, 1000).unref();

  private constructor(
    private readonly options: EventHubEndpointOptions,
    private readonly server: AmqpServer,
  ) {}

  static async start(options: EventHubEndpointOptions): Promise<EventHubEndpoint> {
    const server = await AmqpServer.start({
      name: `${options.hub.hubName}-event-hub-endpoint`,
      host: options.host,
      port: options.port,
      tlsPort: options.tlsPort,
      tls: options.tls,
      pendingLimits: options.pendingLimits,
      log: options.log,
    });
    const mechanisms = server.container.sasl_server_mechanisms as {
      enable_anonymous: () => void;
      [name: string]: unknown;
    };
    // The JS client uses ANONYMOUS; the .NET client (the Functions host) insists on MSSBCBS. Both mean "the
    // claims follow on $cbs", so both succeed here and authorization happens per link.
    mechanisms.enable_anonymous();
    mechanisms.MSSBCBS = () => ({
      outcome: undefined as boolean | undefined,
      start(this: { outcome?: boolean }) {
        this.outcome = true;
      },
    });
    const endpoint = new EventHubEndpoint(options, server);
    endpoint.wire();
    return endpoint;
  }

  get port(): number {
    return this.server.port ?? 0;
  }

  get tlsPort(): number | undefined {
    return this.server.tlsPort;
  }

  async close(): Promise<void> {
    clearInterval(this.claimCheck);
    this.options.hub.telemetry.off('appended', this.onAppended);
    for (const receiver of this.receivers.all()) receiver.stop();
    await this.server.close();
  }

  private wire(): void {
    const { container } = this.server;
    container.on('receiver_open', (context: EventContext) => {
      if (context.receiver) this.onClientSender(context.receiver);
    });
    container.on('sender_open', (context: EventContext) => {
      const { sender, connection } = context;
      if (!sender) return;
      const address = addressText((sender.source as { address?: unknown } | undefined)?.address);
      if (REQUEST_NODES.has(address)) {
        acceptNodeLink(sender, address);
        return;
      }
      const refusal = admitPartitionReceiver(
        this.options.hub,
        this.claims,
        this.receivers,
        sender,
        connection,
      );
      if (refusal) this.refuse(sender, refusal);
    });
    container.on('message', (context: EventContext) => {
      this.onRequest(context);
    });
    container.on('sendable', (context: EventContext) => {
      if (context.sender) this.receiverOf(context.sender)?.wake();
    });
    const forget = (context: EventContext) => {
      if (context.sender) this.forgetWhere((sender) => sender === context.sender);
    };
    container.on('sender_close', forget);
    container.on('sender_error', forget);
    // A client may end its session or connection without detaching its links first: rhea then raises no
    // per-link event, so receivers are forgotten by session and connection as well.
    const forgetConnection = (context: EventContext) => {
      this.forgetWhere((sender) => sender.connection === context.connection);
    };
    const forgetSession = (context: EventContext) => {
      this.forgetWhere((sender) => sender.session === context.session);
    };
    container.on('disconnected', forgetConnection);
    container.on('connection_close', forgetConnection);
    container.on('connection_error', forgetConnection);
    container.on('session_close', forgetSession);
    container.on('session_error', forgetSession);
    this.options.hub.telemetry.on('appended', this.onAppended);
  }

  private readonly onAppended = (event: TelemetryEvent): void => {
    for (const receiver of this.receivers.all()) {
      if (receiver.partitionId === event.partitionId) receiver.wake();
    }
  };

  private receiverOf(sender: Sender): PartitionConsumer | undefined {
    return this.receivers.all().find((receiver) => receiver.sender === sender);
  }

  private forgetWhere(belongs: (sender: Sender) => boolean): void {
    for (const receiver of this.receivers.all()) {
      if (!belongs(receiver.sender)) continue;
      receiver.stop();
      this.receivers.remove(receiver.key, receiver);
    }
  }

  /** A client sending: only to `$cbs` and `$management`; telemetry arrives from devices, not here. */
  private onClientSender(receiver: Receiver): void {
    const address = addressText((receiver.target as { address?: unknown } | undefined)?.address);
    if (REQUEST_NODES.has(address)) {
      acceptNodeLink(receiver, address);
      return;
    }
    this.refuse(receiver, {
      condition: 'amqp:not-allowed',
      description: `IoT Hub's Event Hub-compatible endpoint is read-only: "${address.slice(0, 200)}" cannot be sent to. Devices send telemetry over MQTT.`,
    });
  }

  /** Refuses a link as Event Hubs does: the attach goes back without a terminus, then a detach with the error. */
  private refuse(link: Sender | Receiver, refusal: LinkRefusal): void {
    this.options.log.warn(`AMQP link "${link.name}" refused: ${refusal.description}`);
    link.close(refusal);
  }

  private onRequest(context: EventContext): void {
    const { receiver, message, connection } = context;
    if (!receiver || !message) return;
    const { hub, log } = this.options;
    const address = addressText((receiver.target as { address?: unknown } | undefined)?.address);
    const properties = (message.application_properties ?? {}) as Record<string, unknown>;
    let reply: RequestReply;
    if (address === '$cbs') {
      reply = putToken(hub, this.claims, connection, properties, message.body, log);
    } else if (address === '$management') {
      const denied = authorizeManagement(hub, this.claims, connection, properties.security_token);
      reply =
        denied ??
        readManagementRequest(
          { hubName: hub.hubName, createdAt: hub.createdAt, store: hub.telemetry },
          properties,
        );
    } else {
      return;
    }
    sendReply(connection, address, message, reply, log);
  }
}
