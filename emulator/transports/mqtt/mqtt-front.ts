import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Aedes, Client, PublishPacket, Subscription } from 'aedes' with { 'resolution-mode': 'import' };
import type { Logger } from '../../log';
import type { TlsMaterial } from '../../certificates';
import type { DeviceRecord, DeviceRegistry } from '../../hub/registry';
import type { EventStore } from '../../hub/telemetry/event-store';
import { authenticateDevice, type DeviceAuthContext } from '../../hub/auth/device-auth';
import { DeviceTwins } from '../../hub/twins/device-twins';
import { PacketSizeGuard } from './packet-size-guard';
import { InspectedStream } from '../shared/inspected-stream';
import { PendingConnections, type PendingConnectionLimits } from '../shared/pending-connections';
import {
  isAllowedDeviceSubscription,
  METHODS_SUBSCRIPTION,
  methodRequestTopic,
  parseDevicePublishTopic,
} from './topics';

/** IoT Hub's limit for one device-to-cloud message: body, system property values, user property names and values. */
export const MAX_TELEMETRY_BYTES = 256 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * Largest packet before CONNECT is accepted: a client id, a user name and a SAS token take a few hundred bytes;
 * nothing a device sends before it authenticated needs more.
 */
const MAX_PACKET_BEFORE_AUTHENTICATION = 16 * 1024;
/** Largest packet after: a 256 KB message plus the longest topic MQTT can carry (its length is 2 bytes). */
const MAX_PACKET_AFTER_AUTHENTICATION = MAX_TELEMETRY_BYTES + 2 + 65_535 + 2;

export interface MqttFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly auth: DeviceAuthContext;
  readonly registry: DeviceRegistry;
  /** Telemetry goes here; a message is acknowledged (PUBACK) only once it is on disk. */
  readonly telemetry: EventStore;
  /** Connections that have not authenticated yet, at most, and how long each may take (TLS, then CONNECT). */
  readonly pendingLimits: PendingConnectionLimits;
  readonly log: Logger;
}

interface MqttFrontEvents {
  'method-response': [deviceId: string, requestId: string, status: number, payload: Buffer];
  /** The device is connected and subscribed to direct methods. */
  'methods-ready': [deviceId: string];
  disconnected: [deviceId: string];
}

interface ConnectedDevice {
  readonly client: Client;
  readonly expiryTimer: NodeJS.Timeout;
}

/** What the emulator reports about its MQTT front, for diagnostics and tests. */
export interface MqttFrontStats {
  readonly connectedDevices: number;
  readonly pendingConnections: number;
  /** Messages the broker keeps for later subscribers: IoT Hub keeps none, so this stays 0. */
  readonly retainedMessages: number;
}

/** The device side of the emulator: MQTT 3.1.1 over TLS (aedes behind Node's TLS server), IoT Hub's rules. */
export class MqttFront extends EventEmitter<MqttFrontEvents> {
  private readonly devices = new Map<string, ConnectedDevice>();
  private readonly sockets = new Set<Socket>();
  /** Connections that have not authenticated yet: bounded in number and in time (TLS, then CONNECT). */
  private readonly pending: PendingConnections;
  /** The size guard of each connection, raised once it authenticates. */
  private readonly guards = new WeakMap<object, PacketSizeGuard>();
  private readonly twins = new DeviceTwins();

  private constructor(
    private readonly options: MqttFrontOptions,
    private readonly broker: Aedes,
    private readonly server: Server,
  ) {
    super();
    this.pending = new PendingConnections('device', options.pendingLimits, options.log);
  }

  static async start(options: MqttFrontOptions): Promise<MqttFront> {
    // aedes 1.x is an ES module; a dynamic import keeps the emulator CommonJS like the rest of the project.
    const { Aedes } = await import('aedes');
    // The broker's hooks need the front, which needs the broker: the hooks reach it through this reference.
    const ref: { front?: MqttFront } = {};
    const broker = await Aedes.createBroker({
      connectTimeout: options.pendingLimits.timeoutMs,
      authenticate: (client, username, password, done) => {
        if (!ref.front) {
          done(Object.assign(new Error('starting'), { returnCode: 3 as const }), null);
          return;
        }
        ref.front.authenticate(client, username, password, done);
      },
      authorizePublish: (client, packet, done) => {
        if (!ref.front) {
          done(new Error('starting'));
          return;
        }
        ref.front.authorizePublish(client, packet, done);
      },
      authorizeSubscribe: (client, subscription, done) => {
        if (!ref.front) {
          done(new Error('starting'));
          return;
        }
        ref.front.authorizeSubscribe(client, subscription, done);
      },
    });
    const server = createServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        minVersion: 'TLSv1.2',
        noDelay: true,
        handshakeTimeout: options.pendingLimits.timeoutMs,
      },
      (socket) => {
        ref.front?.handle(socket);
      },
    );
    const front = new MqttFront(options, broker, server);
    ref.front = front;
    front.wireEvents();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return front;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** True when the device is online and has subscribed to direct methods, so a request would reach it. */
  acceptsMethods(deviceId: string): boolean {
    const device = this.devices.get(deviceId);
    return !!device && hasSubscription(device.client, METHODS_SUBSCRIPTION);
  }

  /** Sends a direct-method request to the device's current connection (QoS 0, as IoT Hub). */
  sendMethodRequest(deviceId: string, methodName: string, requestId: string, payload: Buffer): boolean {
    const device = this.devices.get(deviceId);
    if (!device) return false;
    device.client.publish(
      publishPacket(methodRequestTopic(methodName, requestId), payload),
      ignoreWriteError,
    );
    return true;
  }

  /** Hands a TLS connection to the broker through a guard that bounds the packets it may send. */
  private handle(socket: TLSSocket): void {
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
    this.guards.set(stream, guard);
    this.broker.handle(stream);
  }

  /** Counts read from the broker itself. */
  async stats(): Promise<MqttFrontStats> {
    // aedes types its persistence as any; createRetainedStream is part of the aedes-persistence interface.
    const persistence = (this.broker as unknown as { persistence: RetainedStore }).persistence;
    let retainedMessages = 0;
    for await (const packet of persistence.createRetainedStream('#')) {
      if (packet) retainedMessages++;
    }
    return { connectedDevices: this.devices.size, pendingConnections: this.pending.size, retainedMessages };
  }

  /** Drops the device's connection, e.g. after it was disabled or deleted. */
  disconnect(deviceId: string): void {
    this.devices.get(deviceId)?.client.close();
  }

  async close(): Promise<void> {
    this.pending.clear();
    for (const { expiryTimer } of this.devices.values()) clearTimeout(expiryTimer);
    const serverClosed = new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => {
      this.broker.close(() => {
        resolve();
      });
    });
    await serverClosed;
    this.devices.clear();
  }

  private wireEvents(): void {
    this.server.on('connection', (socket: Socket) => {
      if (!this.pending.admit(socket)) return;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('tlsClientError', (error, socket) => {
      this.options.log.warn(`TLS handshake failed from ${socket.remoteAddress ?? '?'}: ${error.message}`);
    });
    this.broker.on('clientReady', (client) => {
      this.onClientReady(client);
    });
    this.broker.on('clientDisconnect', (client) => {
      this.onClientGone(client);
    });
    this.broker.on('subscribe', (subscriptions, client) => {
      if (
        subscriptions.some((s) => s.topic === METHODS_SUBSCRIPTION) &&
        this.devices.get(client.id)?.client === client
      ) {
        this.emit('methods-ready', client.id);
      }
    });
    this.broker.on('clientError', (client, error) => {
      this.options.log.warn(`device ${JSON.stringify(client.id)} connection error: ${error.message}`);
    });
    this.options.registry.on('revoked', (deviceId) => {
      this.disconnect(deviceId);
    });
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: (Error & { returnCode: number }) | null, success: boolean | null) => void,
  ): void {
    const verdict = authenticateDevice(this.options.auth, client.id, username, password);
    if (verdict.ok) {
      sessions.set(client, { expiry: verdict.expiry, device: verdict.device });
      this.guards.get(client.conn)?.authenticated();
      this.pending.authenticated(client.conn as unknown as InspectedStream);
      done(null, true);
      return;
    }
    const address = (client.conn as Partial<Socket>).remoteAddress ?? '?';
    this.options.log.warn(`refused device ${JSON.stringify(client.id)} from ${address}: ${verdict.reason}`);
    done(Object.assign(new Error(verdict.reason), { returnCode: verdict.returnCode }), null);
  }

  private onClientReady(client: Client): void {
    const session = sessions.get(client);
    // The device may have been disabled, deleted or re-keyed between CONNECT and now, when no connection of it
    // was registered yet to be dropped: check again.
    const device = this.options.registry.find(client.id);
    if (
      !session ||
      device?.status !== 'enabled' ||
      device.primaryKey !== session.device.primaryKey ||
      device.secondaryKey !== session.device.secondaryKey
    ) {
      this.options.log.warn(`device ${JSON.stringify(client.id)} was revoked while connecting; closing`);
      client.close();
      return;
    }
    const expiry = session.expiry;
    const previous = this.devices.get(client.id);
    if (previous) clearTimeout(previous.expiryTimer);
    // IoT Hub closes a connection when its SAS token expires; the SDK renews by reconnecting.
    const expiryTimer = setTimeout(
      () => {
        client.close();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, expiry * 1000 - Date.now())),
    );
    expiryTimer.unref();
    this.devices.set(client.id, { client, expiryTimer });
    this.options.registry.setConnectionState(client.id, true);
    this.options.log.info(`device ${JSON.stringify(client.id)} connected`);
    if (hasSubscription(client, METHODS_SUBSCRIPTION)) this.emit('methods-ready', client.id);
  }

  private onClientGone(client: Client): void {
    const current = this.devices.get(client.id);
    if (current?.client !== client) return; // an older connection taken over by a newer one
    clearTimeout(current.expiryTimer);
    this.devices.delete(client.id);
    this.options.registry.setConnectionState(client.id, false);
    this.options.log.info(`device ${JSON.stringify(client.id)} disconnected`);
    this.emit('disconnected', client.id);
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void {
    if (!client) {
      done(null);
      return;
    } // the broker's own messages
    if (packet.qos === 2) {
      done(new Error('QoS 2 is not supported by IoT Hub'));
      return;
    }
    const topic = parseDevicePublishTopic(client.id, packet.topic);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    // IoT Hub never keeps a message for later subscribers; it only marks it (`mqtt-retain`). Cleared here, before
    // aedes would store it.
    const retained = packet.retain;
    packet.retain = false;
    switch (topic.kind) {
      case 'telemetry': {
        const applicationProperties = retained
          ? withProperty(topic.properties.user, 'mqtt-retain', 'true')
          : topic.properties.user;
        const size = messageSize(payload, topic.properties.system, applicationProperties);
        if (size > MAX_TELEMETRY_BYTES) {
          this.options.log.warn(
            `device ${JSON.stringify(client.id)} sent a message of ${size} bytes (body and properties), over IoT Hub's ${MAX_TELEMETRY_BYTES}; closing its connection`,
          );
          done(new Error(`telemetry message of ${size} bytes exceeds ${MAX_TELEMETRY_BYTES}`));
          return;
        }
        // aedes sends the PUBACK when `done` is called: only once the event is durable. A failed write
        // closes the connection without a PUBACK, so the device SDK sends the message again.
        this.options.telemetry
          .append({
            deviceId: client.id,
            authGenerationId: sessions.get(client)?.device.generationId ?? '',
            body: payload,
            systemProperties: topic.properties.system,
            applicationProperties,
          })
          .then(
            () => {
              done(null);
            },
            (error: unknown) => {
              done(error as Error);
            },
          );
        return;
      }
      case 'method-response':
        this.emit('method-response', client.id, topic.requestId, topic.status, payload);
        {
          done(null);
          return;
        }
      case 'twin-get':
      case 'twin-reported': {
        const reply = this.twins.handle(client.id, topic, payload);
        client.publish(publishPacket(reply.topic, reply.payload), ignoreWriteError);
        done(null);
        return;
      }
      case 'invalid':
        this.options.log.warn(
          `device ${JSON.stringify(client.id)} may not publish to ${JSON.stringify(packet.topic)}: ${topic.reason}`,
        );
        {
          done(new Error(topic.reason));
          return;
        }
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
    if (!isAllowedDeviceSubscription(client.id, subscription.topic)) {
      this.options.log.warn(
        `device ${JSON.stringify(client.id)} may not subscribe to ${JSON.stringify(subscription.topic)}`,
      );
      done(null, null);
      return; // SUBACK failure (0x80) for this filter
    }
    done(null, subscription);
  }
}

interface RetainedStore {
  createRetainedStream(pattern: string): AsyncIterable<unknown>;
}

/** Per connection, recorded at authentication: token expiry and the device record it was checked against. */
const sessions = new WeakMap<Client, { expiry: number; device: DeviceRecord }>();

function hasSubscription(client: Client, filter: string): boolean {
  const subscriptions = (client as Client & { subscriptions?: Record<string, unknown> }).subscriptions;
  return !!subscriptions && Object.prototype.hasOwnProperty.call(subscriptions, filter);
}

/**
 * A message's size as IoT Hub counts it against its 256 KB limit: the body, the values of the system properties,
 * and the names and values of the application properties, in UTF-8 bytes.
 */
function messageSize(
  body: Buffer,
  system: Readonly<Record<string, string>>,
  user: Readonly<Record<string, string>>,
): number {
  let size = body.length;
  for (const value of Object.values(system)) size += Buffer.byteLength(value, 'utf8');
  for (const [name, value] of Object.entries(user)) {
    size += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  return size;
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

/** aedes requires a callback; write errors already close the connection, which fails pending calls. */
function ignoreWriteError(): void {
  // nothing to do
}

function publishPacket(topic: string, payload: Buffer): PublishPacket {
  return { cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false };
}
