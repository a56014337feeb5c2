import type { Connection, EventContext, Receiver, Sender } from 'rhea';
import type { TlsMaterial } from '../../certificates';
import type { DeviceSession } from '../../hub/auth/device-auth';
import { authenticateDeviceCertificate, presentedCertificateOf } from '../../hub/auth/x509-auth';
import { HubError } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import type { TLSSocket } from 'node:tls';
import type { PeerSocket } from '../shared/inspected-stream';
import type { PendingConnectionLimits } from '../shared/pending-connections';
import { tlsOriginOf } from '../shared/tls-origin';
import { AmqpDeviceConnection, type DeviceLinkRole } from './amqp-device-connection';
import { AmqpServer } from './amqp-server';
import type { LinkRefusal } from './consumer-registry';
import { amqpConditionOf, IotHubClaims, verifyIotHubClaim, type IotHubClaim } from './iothub-claims';
import { parseIotHubAddress } from './iothub-addresses';
import { DeviceMessageHandler } from './iothub-device-messages';
import { plainMechanism, saslClaim } from './iothub-sasl';
import { ServiceLinks } from './iothub-service-links';
import { completeAttach, remoteTermini } from './link-internals';
import { readManagementRequest } from './management';
import { sendReply, type RequestReply } from './request-reply';
import { describeClientValue } from './client-values';

/** Where the Event Hub-compatible endpoint listens, for `amqp:link:redirect` answers. */
export interface EventHubLocation {
  readonly host: string;
  readonly port: number;
  /** Whether `port` takes AMQP over TLS. */
  readonly tls: boolean;
}

export interface IotHubAmqpEndpointOptions {
  readonly host: string;
  /** AMQP over TLS (IoT Hub's 5671); 0 picks a free port. */
  readonly tlsPort: number;
  readonly tls: TlsMaterial;
  readonly hub: IotHub;
  readonly pendingLimits: PendingConnectionLimits;
  /** Where readers of the hub's `/messages/events` are redirected. */
  readonly eventHub: () => EventHubLocation;
  readonly log: Logger;
}

/** Links that are refused with this when the client holds no suitable claim. */
const UNAUTHORIZED = 'amqp:unauthorized-access';

/**
 * IoT Hub's own AMQP endpoint, for devices and services on one port as in Azure: SASL ANONYMOUS (claims follow
 * on `$cbs`) or PLAIN (the token as password), device links (telemetry, cloud-to-device, direct methods) and
 * service links (cloud-to-device sender, feedback receiver, a redirect for readers of `/messages/events`). Every
 * link is authorized by a claim of its connection; what devices and services send becomes hub calls.
 */
export class IotHubAmqpEndpoint {
  private readonly claims = new IotHubClaims();
  /** Devices on each connection (a connection may carry several, as the .NET SDK multiplexes them). */
  private readonly devices = new Map<Connection, Map<string, AmqpDeviceConnection>>();
  private readonly deviceMessages: DeviceMessageHandler;
  private readonly serviceLinks: ServiceLinks;

  private constructor(
    private readonly options: IotHubAmqpEndpointOptions,
    private readonly server: AmqpServer,
  ) {
    this.deviceMessages = new DeviceMessageHandler(options.hub, options.log);
    this.serviceLinks = new ServiceLinks(options.hub, this.claims, options.log);
  }

  static async start(options: IotHubAmqpEndpointOptions): Promise<IotHubAmqpEndpoint> {
    const server = await AmqpServer.start({
      name: options.hub.hostName,
      host: options.host,
      port: undefined,
      tlsPort: options.tlsPort,
      tls: options.tls,
      pendingLimits: options.pendingLimits,
      log: options.log,
      // Every delivery a client sends is settled by the handler that acted on it: accepted once done (telemetry
      // once durable), rejected with the hub's error otherwise.
      linkDefaults: { autoaccept: false },
    });
    const mechanisms = server.container.sasl_server_mechanisms as unknown as Record<string, unknown> & {
      enable_anonymous: () => void;
    };
    mechanisms.enable_anonymous();
    mechanisms.PLAIN = plainMechanism(options.hub);
    const endpoint = new IotHubAmqpEndpoint(options, server);
    endpoint.wire();
    return endpoint;
  }

  get tlsPort(): number {
    return this.server.tlsPort ?? 0;
  }

  /** An AMQP connection from the HTTPS port's `/$iothub/websocket` (subprotocol AMQPWSB10), over `tlsSocket`. */
  acceptStream(stream: PeerSocket, tlsSocket: TLSSocket): void {
    this.server.acceptStream(stream, tlsSocket);
  }

  async close(): Promise<void> {
    this.serviceLinks.close();
    await this.server.close();
  }

  private wire(): void {
    const { container } = this.server;
    container.on('connection_open', (context: EventContext) => {
      const claim = saslClaim(context.connection);
      if (claim) this.putClaim(context.connection, claim);
    });
    container.on('receiver_open', (context: EventContext) => {
      if (context.receiver) this.onClientSender(context.receiver, context.connection);
    });
    container.on('sender_open', (context: EventContext) => {
      if (context.sender) this.onClientReceiver(context.sender, context.connection);
    });
    container.on('message', (context: EventContext) => {
      this.onMessage(context);
    });
    container.on('sendable', (context: EventContext) => {
      const { sender } = context;
      if (!sender) return;
      const device = this.deviceOf(sender);
      if (device) this.options.hub.connections.cloudToDeviceReady(device);
      else this.serviceLinks.sendable(sender);
    });
    for (const outcome of ['accepted', 'rejected', 'released', 'modified'] as const) {
      container.on(outcome, (context: EventContext) => {
        this.onSettled(context, outcome);
      });
    }
    const linkEnded = (context: EventContext) => {
      const link = context.sender ?? context.receiver;
      if (link) this.forgetLink(link);
    };
    for (const event of ['sender_close', 'sender_error', 'receiver_close', 'receiver_error'] as const) {
      container.on(event, linkEnded);
    }
    // A client may end its session or connection without detaching: rhea then raises no event per link.
    const connectionEnded = (context: EventContext) => {
      this.forgetConnection(context.connection);
    };
    for (const event of ['disconnected', 'connection_close', 'connection_error'] as const) {
      container.on(event, connectionEnded);
    }
    const sessionEnded = (context: EventContext) => {
      for (const device of this.devices.get(context.connection)?.values() ?? []) {
        for (const link of device.linksOf(context.session)) this.forgetLink(link);
      }
      this.serviceLinks.forgetSession(context.session);
    };
    container.on('session_close', sessionEnded);
    container.on('session_error', sessionEnded);
  }

  /** A client's sending link: a device's telemetry or method answers, a service's C2D messages, `$cbs`. */
  private onClientSender(receiver: Receiver, connection: Connection): void {
    const address = parseIotHubAddress(targetAddress(receiver));
    switch (address.kind) {
      case 'node':
        accept(receiver);
        return;
      case 'device-telemetry':
        this.attachDeviceLink(address.deviceId, 'telemetry', receiver, connection);
        return;
      case 'device-methods':
        this.attachDeviceLink(address.deviceId, 'method-responses', receiver, connection);
        return;
      case 'device-twin':
        this.attachDeviceLink(address.deviceId, 'twin-requests', receiver, connection);
        return;
      case 'service-c2d':
        this.refuseUnless(receiver, this.serviceLinks.admitCloudToDeviceSender(receiver, connection));
        return;
      default:
        this.refuseAddress(receiver, targetAddress(receiver));
    }
  }

  /** A client's receiving link: a device's C2D messages or method requests, a service's feedback, `$cbs`. */
  private onClientReceiver(sender: Sender, connection: Connection): void {
    const address = parseIotHubAddress(sourceAddress(sender));
    switch (address.kind) {
      case 'node':
        accept(sender);
        return;
      case 'device-c2d':
        this.attachDeviceLink(address.deviceId, 'c2d', sender, connection);
        return;
      case 'device-methods':
        this.attachDeviceLink(address.deviceId, 'method-requests', sender, connection);
        return;
      case 'device-twin':
        this.attachDeviceLink(address.deviceId, 'twin-responses', sender, connection);
        return;
      case 'service-feedback':
        this.refuseUnless(sender, this.serviceLinks.admitFeedbackReceiver(sender, connection));
        return;
      case 'service-file-notifications':
        this.refuseUnless(sender, this.serviceLinks.admitFileNotificationReceiver(sender, connection));
        return;
      case 'service-events':
        this.redirectEvents(sender, connection, address.rest);
        return;
      default:
        this.refuseAddress(sender, sourceAddress(sender));
    }
  }

  /**
   * A device link: allowed when a claim of the connection lets it act as the device. The device is connected to
   * the hub from its first link on; a second link of a method pair makes it ready for methods.
   */
  private attachDeviceLink(
    deviceId: string,
    role: DeviceLinkRole,
    link: Sender | Receiver,
    connection: Connection,
  ): void {
    const { hub } = this.options;
    const session =
      this.claims.deviceSession(hub, connection, deviceId) ?? this.certificateSession(connection, deviceId);
    if (!session) {
      this.refuse(link, {
        condition: UNAUTHORIZED,
        description: `Unauthorized: put a token for ${hub.hostName}/devices/${deviceId} on $cbs before attaching "${linkAddress(link)}".`,
      });
      return;
    }
    let perConnection = this.devices.get(connection);
    if (!perConnection) {
      perConnection = new Map();
      this.devices.set(connection, perConnection);
    }
    let device = perConnection.get(deviceId);
    const isNew = device === undefined;
    device ??= new AmqpDeviceConnection(deviceId, connection, session);
    perConnection.set(deviceId, device);
    accept(link);
    device.addLink(role, link);
    if (isNew && !hub.connections.attach(device, session)) return;
    // Ready once both links of the method pair are attached (the SDK attaches its sender first).
    const methodLink = role === 'method-requests' || role === 'method-responses';
    if (methodLink && device.acceptsMethods()) hub.connections.methodsReady(device);
  }

  /**
   * An X.509 device's session, from the client certificate of the connection's TLS handshake: the device SDK opens
   * such a connection without SASL and puts no token on `$cbs`, so its first link names the identity to check.
   */
  private certificateSession(connection: Connection, deviceId: string): DeviceSession | undefined {
    const { hub, log } = this.options;
    // rhea keeps the stream it was handed (AmqpServer registers each one with its TLS socket).
    const stream = (connection as unknown as { socket?: object }).socket;
    const presented = presentedCertificateOf(stream ? tlsOriginOf(stream) : undefined);
    const verdict = authenticateDeviceCertificate({ registry: hub.registry }, deviceId, presented);
    if (verdict.ok) return verdict.session;
    if (presented) {
      log.warn(`refused device ${JSON.stringify(deviceId)} over AMQP: ${verdict.reason}`);
      hub.activity.emit('connection-refused', { deviceId, transport: 'amqp', reason: verdict.reason });
    }
    return undefined;
  }

  private onMessage(context: EventContext): void {
    const { receiver, message, delivery, connection } = context;
    if (!receiver || !message || !delivery) return;
    const address = parseIotHubAddress(targetAddress(receiver));
    if (address.kind === 'node') {
      delivery.accept();
      this.onNodeRequest(connection, address.name, message);
      return;
    }
    const device = this.deviceOf(receiver);
    if (device) {
      this.deviceMessages.handle(device, address, message, delivery);
      return;
    }
    this.serviceLinks.onMessage(receiver, message, delivery);
  }

  private onNodeRequest(
    connection: Connection,
    node: '$cbs' | '$management',
    message: EventContext['message'],
  ): void {
    if (!message) return;
    const { hub, log } = this.options;
    const properties = (message.application_properties ?? {}) as Record<string, unknown>;
    let reply: RequestReply;
    if (node === '$cbs') {
      reply = this.putToken(connection, properties, message.body);
    } else {
      const denied = this.serviceDenial(connection, ['messages', 'events']);
      reply = denied
        ? { statusCode: 401, errorCondition: UNAUTHORIZED, statusDescription: denied }
        : readManagementRequest(
            { hubName: hub.hubName, createdAt: hub.createdAt, store: hub.telemetry },
            properties,
          );
    }
    sendReply(connection, node, message, reply, log);
  }

  /**
   * Why the connection may not read the hub's events (the redirect, `$management`), or undefined when it may: a
   * hub-level claim of a policy with ServiceConnect, as IoT Hub requires.
   */
  private serviceDenial(connection: Connection, resource: readonly string[]): string | undefined {
    const { hub } = this.options;
    const caller = this.claims.serviceCaller(connection);
    if (!caller) return `Put a token for ${hub.hostName} (a policy with ServiceConnect) on $cbs first.`;
    try {
      hub.authorizeService(caller, 'ServiceConnect', resource);
      return undefined;
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      return error.message;
    }
  }

  /** `$cbs` put-token with IoT Hub's signing rule: 200 when the token holds, 401 with the reason otherwise. */
  private putToken(connection: Connection, properties: Record<string, unknown>, body: unknown): RequestReply {
    const { hub, log } = this.options;
    if (properties.operation !== 'put-token') {
      return {
        statusCode: 400,
        errorCondition: 'amqp:not-implemented',
        statusDescription: `The $cbs operation "${describeClientValue(properties.operation, 40)}" is not supported; use put-token.`,
      };
    }
    const audience = typeof properties.name === 'string' ? properties.name : '';
    const token = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
    if (properties.type === 'jwt') {
      return {
        statusCode: 401,
        errorCondition: UNAUTHORIZED,
        statusDescription: 'The emulator does not accept Microsoft Entra tokens; use a SAS token.',
      };
    }
    try {
      this.putClaim(connection, verifyIotHubClaim(hub, audience, token));
      return { statusCode: 200, statusDescription: 'OK' };
    } catch (error) {
      if (!(error instanceof HubError)) throw error;
      log.warn(`AMQP put-token for "${audience.slice(0, 200)}" refused: ${error.message}`);
      const deviceId = /\/devices\/([^/]+)$/.exec(safeDecode(audience))?.[1];
      if (deviceId !== undefined) {
        hub.activity.emit('connection-refused', { deviceId, transport: 'amqp', reason: error.message });
      }
      return {
        statusCode: error.httpStatus,
        errorCondition: amqpConditionOf(error),
        statusDescription: error.message,
      };
    }
  }

  /** Records a claim; a renewed device token extends the session of the device's links on the connection. */
  private putClaim(connection: Connection, claim: IotHubClaim): void {
    this.claims.put(connection, claim);
    if (claim.kind !== 'device') return;
    const device = this.devices.get(connection)?.get(claim.session.device.deviceId);
    if (device && this.options.hub.connections.get(device.deviceId) === device) {
      device.session = claim.session;
      this.options.hub.connections.attach(device, claim.session);
    }
  }

  private onSettled(context: EventContext, outcome: 'accepted' | 'rejected' | 'released' | 'modified'): void {
    const { sender, delivery } = context;
    if (!sender || !delivery) return;
    const device = this.deviceOf(sender);
    if (device) this.deviceMessages.settled(device, delivery, outcome);
    else this.serviceLinks.settled(sender, delivery, outcome);
  }

  /**
   * Readers of the hub's own `/messages/events` address are sent, as IoT Hub sends them, to the Event
   * Hub-compatible endpoint: the attach is answered with `amqp:link:redirect` naming where to go.
   */
  private redirectEvents(sender: Sender, connection: Connection, rest: string): void {
    const { hub } = this.options;
    const denied = this.serviceDenial(connection, ['messages', 'events']);
    if (denied) {
      this.refuse(sender, { condition: UNAUTHORIZED, description: denied });
      return;
    }
    const target = this.options.eventHub();
    const scheme = target.tls ? 'amqps' : 'amqp';
    const address = `${scheme}://${target.host}:${target.port}/${hub.hubName}${rest}`;
    sender.close({
      condition: 'amqp:link:redirect',
      description: `Telemetry is read from the Event Hub-compatible endpoint: ${address}`,
      info: { hostname: target.host, 'network-host': target.host, port: target.port, address },
    });
  }

  private deviceOf(link: Sender | Receiver): AmqpDeviceConnection | undefined {
    for (const device of this.devices.get(link.connection)?.values() ?? []) {
      if (device.holds(link)) return device;
    }
    return undefined;
  }

  private forgetLink(link: Sender | Receiver): void {
    const device = this.deviceOf(link);
    if (!device) {
      this.serviceLinks.forget(link);
      return;
    }
    const { hub } = this.options;
    const empty = device.removeLink(link);
    if (!empty) return;
    this.devices.get(link.connection)?.delete(device.deviceId);
    hub.connections.detach(device);
  }

  private forgetConnection(connection: Connection): void {
    const perConnection = this.devices.get(connection);
    this.devices.delete(connection);
    for (const device of perConnection?.values() ?? []) this.options.hub.connections.detach(device);
    this.serviceLinks.forgetConnection(connection);
  }

  private refuseUnless(link: Sender | Receiver, refusal: LinkRefusal | undefined): void {
    if (refusal) this.refuse(link, refusal);
    else accept(link);
  }

  private refuseAddress(link: Sender | Receiver, raw: unknown): void {
    const direction = link.is_sender() ? 'read from' : 'sent to';
    this.refuse(link, {
      condition: 'amqp:not-found',
      description: `IoT Hub has no node "${describeClientValue(raw)}" to be ${direction}.`,
    });
  }

  /** Refuses a link as IoT Hub does: the attach is answered, then detached with the error. */
  private refuse(link: Sender | Receiver, refusal: LinkRefusal): void {
    this.options.log.warn(`AMQP link "${describeClientValue(link.name)}" refused: ${refusal.description}`);
    link.close(refusal);
  }
}

/** Accepts a client's link, echoing both its source and its target (clients read both), every field written. */
function accept(link: Sender | Receiver): void {
  const { source, target } = remoteTermini(link);
  if (source) link.set_source(source as Parameters<Sender['set_source']>[0]);
  if (target) link.set_target(target as Parameters<Sender['set_target']>[0]);
  completeAttach(link);
}

/** A link's target address as the client sent it: any AMQP type. */
function targetAddress(link: Sender | Receiver): unknown {
  return (link.target as { address?: unknown } | undefined)?.address;
}

function sourceAddress(link: Sender | Receiver): unknown {
  return (link.source as { address?: unknown } | undefined)?.address;
}

function linkAddress(link: Sender | Receiver): string {
  return describeClientValue(link.is_sender() ? sourceAddress(link) : targetAddress(link));
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
