import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { createServer, type TLSSocket } from 'node:tls';
import type { Aedes, Client, PublishPacket, Subscription } from 'aedes' with { 'resolution-mode': 'import' };
import { TrackedServer } from '../../../devkit/server-base';
import type { TlsMaterial } from '../../certificates';
import type { DeviceSession } from '../../hub/auth/device-auth';
import { authenticateDeviceCertificate, presentedCertificateOf } from '../../hub/auth/x509-auth';
import type { IotHub } from '../../hub/hub';
import type { TwinAnswer } from '../../hub/twins/twin-service';
import { MAX_MESSAGE_BYTES } from '../../hub/telemetry/message-size';
import type { Logger } from '../../log';
import { InspectedStream, type PeerSocket } from '../shared/inspected-stream';
import { rememberTlsOrigin, tlsOriginOf } from '../shared/tls-origin';
import {
  PendingConnections,
  TLS_HANDSHAKE_GRACE_MS,
  type PendingConnectionLimits,
} from '../shared/pending-connections';
import { MqttDeviceConnection } from './mqtt-device-connection';
import { PacketSizeGuard } from './packet-size-guard';
import {
  cloudToDeviceSubscription,
  isAllowedDeviceSubscription,
  METHODS_SUBSCRIPTION,
  parseClientId,
  parseDevicePublishTopic,
  twinResponseTopic,
  type DeviceTopic,
} from './topics';

/**
 * Largest packet before CONNECT is accepted: a client id, a user name and a SAS token take a few hundred bytes;
 * nothing a device sends before it authenticated needs more.
 */
const MAX_PACKET_BEFORE_AUTHENTICATION = 16 * 1024;
/** Largest packet after: a 256 KB message plus the longest topic MQTT can carry (its length is 2 bytes). */
const MAX_PACKET_AFTER_AUTHENTICATION = MAX_MESSAGE_BYTES + 2 + 65_535 + 2;

export interface MqttFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly hub: IotHub;
  /** Connections that have not authenticated yet, at most, and how long each may take (TLS, then CONNECT). */
  readonly pendingLimits: PendingConnectionLimits;
  readonly log: Logger;
}

/** What the emulator reports about its MQTT front, for diagnostics and tests. */
export interface MqttFrontStats {
  readonly pendingConnections: number;
  /** Messages the broker keeps for later subscribers: IoT Hub keeps none, so this stays 0. */
  readonly retainedMessages: number;
}

type AuthenticateDone = (error: (Error & { returnCode: number }) | null, success: boolean | null) => void;

/**
 * The device side over MQTT 3.1.1 and TLS: aedes behind Node's TLS server, with IoT Hub's rules for CONNECT,
 * topics and QoS. It authenticates through the hub core and turns each packet into a hub call; what the hub sends
 * a device goes through its MqttDeviceConnection.
 */
export class MqttFront {
  /** Connections that have not authenticated yet: bounded in number and in time (TLS, then CONNECT). */
  private readonly pending: PendingConnections;
  /** Per connection, from its authentication on. */
  private readonly connections = new WeakMap<
    Client,
    { session: DeviceSession; connection: MqttDeviceConnection }
  >();
  /** The size guard of each connection's stream, raised once it authenticates. */
  private readonly guards = new WeakMap<object, PacketSizeGuard>();
  private readonly server: TrackedServer;

  private constructor(
    private readonly options: MqttFrontOptions,
    private readonly broker: Aedes,
  ) {
    this.pending = new PendingConnections('device', options.pendingLimits, options.log);
    const tlsServer = createServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        minVersion: 'TLSv1.2',
        // Asked, not required: X.509 devices present one, SAS devices on the same port do not.
        requestCert: true,
        rejectUnauthorized: false,
        noDelay: true,
        handshakeTimeout: options.pendingLimits.timeoutMs + TLS_HANDSHAKE_GRACE_MS,
      },
      (socket) => {
        this.handle(socket, socket);
      },
    );
    tlsServer.on('tlsClientError', (error, socket) => {
      options.log.warn(`TLS handshake failed from ${socket.remoteAddress ?? '?'}: ${error.message}`);
    });
    this.server = new TrackedServer(tlsServer, (socket) => this.pending.admit(socket));
  }

  static async start(options: MqttFrontOptions): Promise<MqttFront> {
    // aedes 1.x is an ES module; a dynamic import keeps the emulator CommonJS like the rest of the project.
    const { Aedes } = await import('aedes');
    // The broker's hooks need the front, which needs the broker: the hooks reach it through this reference.
    const ref: { front?: MqttFront } = {};
    const broker = await Aedes.createBroker({
      connectTimeout: options.pendingLimits.timeoutMs + TLS_HANDSHAKE_GRACE_MS,
      authenticate: (client, username, password, done) => {
        if (ref.front) ref.front.authenticate(client, username, password, done);
        else done(Object.assign(new Error('starting'), { returnCode: 3 as const }), null);
      },
      authorizePublish: (client, packet, done) => {
        if (ref.front) ref.front.authorizePublish(client, packet, done);
        else done(new Error('starting'));
      },
      authorizeSubscribe: (client, subscription, done) => {
        if (ref.front) ref.front.authorizeSubscribe(client, subscription, done);
        else done(new Error('starting'));
      },
    });
    keepNoOutgoingMessages(broker);
    const front = new MqttFront(options, broker);
    ref.front = front;
    front.wireBroker();
    await front.server.listen(options.port, options.host);
    return front;
  }

  get port(): number {
    return this.server.port;
  }

  /** Counts read from the broker itself. */
  async stats(): Promise<MqttFrontStats> {
    // aedes types its persistence as any; createRetainedStream is part of the aedes-persistence interface.
    const persistence = (this.broker as unknown as { persistence: RetainedStore }).persistence;
    let retainedMessages = 0;
    for await (const packet of persistence.createRetainedStream('#')) {
      if (packet) retainedMessages++;
    }
    return { pendingConnections: this.pending.size, retainedMessages };
  }

  async close(): Promise<void> {
    this.pending.clear();
    const serverClosed = this.server.close();
    await new Promise<void>((resolve) => {
      this.broker.close(() => {
        resolve();
      });
    });
    await serverClosed;
  }

  /**
   * A device connection that is already open over `tlsSocket` but arrived another way (MQTT over WebSocket on the
   * HTTPS port): counted against the same pending limits, guarded and authenticated as the TLS port's.
   */
  acceptStream(stream: PeerSocket, tlsSocket: TLSSocket): void {
    if (this.pending.admit(stream)) this.handle(stream, tlsSocket);
  }

  /** Hands a connection (over `tlsSocket`) to the broker through a guard that bounds the packets it may send. */
  private handle(socket: PeerSocket, tlsSocket: TLSSocket): void {
    const guard = new PacketSizeGuard(
      {
        beforeAuthentication: MAX_PACKET_BEFORE_AUTHENTICATION,
        afterAuthentication: MAX_PACKET_AFTER_AUTHENTICATION,
      },
      (announced, limit) => {
        const size = Number.isFinite(announced) ? `${announced} bytes` : 'a malformed length';
        this.options.log.warn(
          `closed a device connection from ${socket.remoteAddress ?? '?'}: it sent a packet of ${size}, over the limit of ${limit}`,
        );
        stream.destroy();
      },
    );
    const stream = new InspectedStream(socket, guard);
    rememberTlsOrigin(stream, tlsSocket);
    this.guards.set(stream, guard);
    this.broker.handle(stream);
  }

  private wireBroker(): void {
    const { hub, log } = this.options;
    this.broker.on('clientReady', (client) => {
      const entry = this.connections.get(client);
      if (!entry) {
        client.close();
        return;
      }
      hub.connections.attach(entry.connection, entry.session);
    });
    this.broker.on('clientDisconnect', (client) => {
      const entry = this.connections.get(client);
      if (entry) hub.connections.detach(entry.connection);
    });
    this.broker.on('subscribe', (subscriptions, client) => {
      const entry = this.connections.get(client);
      if (!entry) return;
      if (subscriptions.some((s) => s.topic === METHODS_SUBSCRIPTION)) {
        hub.connections.methodsReady(entry.connection);
      }
      if (subscriptions.some((s) => s.topic === cloudToDeviceSubscription(client.id))) {
        hub.connections.cloudToDeviceReady(entry.connection);
      }
    });
    // A PUBACK from a device: the broker sends devices nothing but cloud-to-device messages at QoS 1.
    this.broker.on('ack', (packet, client) => {
      const entry = this.connections.get(client);
      const topic = 'topic' in packet ? packet.topic : '';
      if (!entry || !topic.startsWith(`devices/${client.id}/messages/devicebound/`)) return;
      const lockToken = entry.connection.acknowledged();
      if (lockToken !== undefined) {
        try {
          hub.cloudToDevice.complete(client.id, lockToken);
        } catch (error) {
          log.warn(
            `device ${JSON.stringify(client.id)} acknowledged a message too late: ${(error as Error).message}`,
          );
        }
      }
      hub.connections.cloudToDeviceReady(entry.connection);
    });
    this.broker.on('clientError', (client, error) => {
      log.warn(`device ${JSON.stringify(client.id)} connection error: ${error.message}`);
    });
  }

  /**
   * CONNECT as IoT Hub takes it: client id = device id (or `<deviceId>/<moduleId>` for a module), user name
   * `<host>/<client id>/?api-version=...`, password a SAS token the hub accepts for that identity. CONNACK 4 for a
   * bad user name or password, 5 when not authorized.
   */
  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: AuthenticateDone,
  ): void {
    const { hub, log } = this.options;
    const refuse = (returnCode: 4 | 5, reason: string) => {
      const address = (client.conn as Partial<Socket>).remoteAddress ?? '?';
      log.warn(`refused device ${JSON.stringify(client.id)} from ${address}: ${reason}`);
      hub.activity.emit('connection-refused', { deviceId: client.id, transport: 'mqtt', reason });
      done(Object.assign(new Error(reason), { returnCode }), null);
    };
    // `<host>/<client id>/...`, where the host is any name of the hub (`localhost` for `HostName=localhost`).
    const slash = username?.indexOf('/') ?? -1;
    const host = slash > 0 ? username?.slice(0, slash) : undefined;
    const rest = username?.slice(slash + 1).toLowerCase() ?? '';
    if (host === undefined || !hub.names.includes(host) || !rest.startsWith(`${client.id}/`.toLowerCase())) {
      refuse(4, `user name must be "${hub.hostName}/${client.id}/?api-version=..."`);
      return;
    }
    const identity = parseClientId(client.id);
    if (!identity) {
      refuse(5, 'client id must be "<deviceId>" or "<deviceId>/<moduleId>"');
      return;
    }
    const token = password?.toString('utf8');
    const { deviceId, moduleId } = identity;
    // No password: an X.509 device, which proves itself with the client certificate of the TLS handshake.
    const verdict =
      moduleId !== undefined
        ? hub.authenticateModule(deviceId, moduleId, token)
        : token === undefined || token === ''
          ? authenticateDeviceCertificate(
              { registry: hub.registry },
              deviceId,
              presentedCertificateOf(tlsOriginOf(client.conn)),
            )
          : hub.authenticateDevice(deviceId, token);
    if (!verdict.ok) {
      refuse(verdict.failure === 'bad-credentials' ? 4 : 5, verdict.reason);
      return;
    }
    this.connections.set(client, {
      session: verdict.session,
      connection: new MqttDeviceConnection(client, deviceId, moduleId),
    });
    this.guards.get(client.conn)?.authenticated();
    this.pending.authenticated(client.conn as unknown as InspectedStream);
    done(null, true);
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void {
    // The broker's own messages (to devices) pass.
    if (!client) {
      done(null);
      return;
    }
    const entry = this.connections.get(client);
    if (!entry) {
      done(new Error('not authenticated'));
      return;
    }
    if (packet.qos === 2) {
      done(new Error('QoS 2 is not supported by IoT Hub'));
      return;
    }
    // IoT Hub never keeps a message for later subscribers; it only marks it (`mqtt-retain`). Cleared here, before
    // aedes would store it.
    const retained = packet.retain;
    packet.retain = false;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const topic = parseDevicePublishTopic(entry.connection.deviceId, packet.topic, entry.connection.moduleId);
    this.onPublish(entry, topic, payload, retained, packet.topic).then(
      () => {
        done(null);
      },
      (error: unknown) => {
        done(error as Error);
      },
    );
  }

  /**
   * One handler per kind of device publish. Resolving lets aedes acknowledge it (PUBACK for QoS 1), rejecting
   * closes the connection, as IoT Hub does for anything a device may not publish.
   */
  private async onPublish(
    { session, connection }: { session: DeviceSession; connection: MqttDeviceConnection },
    topic: DeviceTopic,
    payload: Buffer,
    retained: boolean,
    rawTopic: string,
  ): Promise<void> {
    const { hub, log } = this.options;
    const { deviceId, moduleId } = connection;
    switch (topic.kind) {
      case 'telemetry': {
        const applicationProperties = retained
          ? withProperty(topic.properties.user, 'mqtt-retain', 'true')
          : topic.properties.user;
        // Acknowledged only once the event is durable. A failed write closes the connection without a PUBACK,
        // so the device SDK sends the message again.
        try {
          await hub.receiveTelemetry(session, {
            body: payload,
            systemProperties: topic.properties.system,
            applicationProperties,
          });
        } catch (error) {
          log.warn(
            `device ${JSON.stringify(deviceId)}'s message refused, closing its connection: ${(error as Error).message}`,
          );
          throw error;
        }
        return;
      }
      case 'method-response':
        hub.methods.respond(deviceId, topic.requestId, topic.status, payload, moduleId);
        return;
      case 'twin-get': {
        const answer =
          moduleId === undefined
            ? hub.twins.readForDevice(deviceId)
            : hub.moduleTwins.readForModule(deviceId, moduleId);
        connection.publish(twinResponseTopic(answer.status, topic.requestId), answerBody(answer));
        return;
      }
      case 'twin-reported': {
        // Answered once the change is on disk, as IoT Hub acknowledges what it stored.
        const answer =
          moduleId === undefined
            ? await hub.twins.reportFromDevice(deviceId, payload)
            : await hub.moduleTwins.reportFromModule(deviceId, moduleId, payload);
        const version = answer.status === 204 ? answer.version : undefined;
        connection.publish(twinResponseTopic(answer.status, topic.requestId, version), answerBody(answer));
        return;
      }
      case 'invalid':
        log.warn(
          `device ${JSON.stringify(deviceId)} may not publish to ${JSON.stringify(rawTopic)}: ${topic.reason}`,
        );
        throw new Error(topic.reason);
    }
  }

  private authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    if (subscription.qos === 2) {
      done(new Error('QoS 2 is not supported by IoT Hub'));
      return;
    }
    const connection = this.connections.get(client)?.connection;
    if (
      !connection ||
      !isAllowedDeviceSubscription(connection.deviceId, subscription.topic, connection.moduleId)
    ) {
      this.options.log.warn(
        `device ${JSON.stringify(client.id)} may not subscribe to ${JSON.stringify(subscription.topic)}`,
      );
      done(null, null); // SUBACK failure (0x80) for this filter
      return;
    }
    done(null, subscription);
  }
}

/**
 * The hub keeps cloud-to-device messages itself (queue, locks, redelivery after a reconnect), so the broker must
 * not: a QoS 1 message it still held for a device from an earlier connection would be sent again, beside the
 * hub's own redelivery. Its stream of stored messages for a resuming session is emptied instead of replayed.
 */
function keepNoOutgoingMessages(broker: Aedes): void {
  const persistence = (broker as unknown as { persistence: OutgoingStore }).persistence;
  const stored = persistence.outgoingStream.bind(persistence);
  persistence.outgoingStream = (client) => Readable.from(forgetAll(persistence, client, stored(client)));
}

/** Clears each stored message and yields none of them. */
async function* forgetAll(
  persistence: OutgoingStore,
  client: Client,
  stored: AsyncIterable<{ messageId?: number }>,
): AsyncGenerator<never> {
  for await (const packet of stored) await persistence.outgoingClearMessageId(client, packet);
  yield* [];
}

interface OutgoingStore {
  outgoingStream(client: Client): AsyncIterable<{ messageId?: number }>;
  outgoingClearMessageId(client: Client, packet: { messageId?: number }): Promise<unknown>;
}

interface RetainedStore {
  createRetainedStream(pattern: string): AsyncIterable<unknown>;
}

function answerBody(answer: TwinAnswer): Buffer {
  return 'body' in answer ? answer.body : Buffer.alloc(0);
}

function withProperty(
  properties: Readonly<Record<string, string>>,
  name: string,
  value: string,
): Readonly<Record<string, string>> {
  const copy = Object.assign(Object.create(null) as Record<string, string>, properties);
  copy[name] = value;
  return copy;
}
