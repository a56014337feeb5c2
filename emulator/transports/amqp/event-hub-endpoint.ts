import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import {
  create_container,
  types,
  type Connection,
  type Container,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import type { TlsMaterial } from '../../certificates';
import type { EventStore } from '../../hub/telemetry/event-store';
import type { TelemetryEvent } from '../../hub/telemetry/record';
import type { Logger } from '../../log';
import type { SharedAccessPolicy } from '../../hub/policies';
import { covers, entityPath, TokenRefusedError, verifyEventHubToken } from '../../hub/auth/event-hub-auth';
import { AmqpFrameGuard, MAX_FRAME_BYTES, type FrameViolation } from './frame-guard';
import { InspectedStream, type PeerSocket } from '../shared/inspected-stream';
import { PendingConnections, type PendingConnectionLimits } from '../shared/pending-connections';
import { ConsumerRegistry, type LinkRefusal } from './consumer-registry';
import { localAttach } from './link-internals';
import { readManagementRequest, type RequestReply } from './management';
import { PartitionConsumer } from './partition-consumer';
import { parseSelector, SELECTOR_FILTER_KEY, SelectorError } from './selector';

export interface AmqpFrontOptions {
  readonly host: string;
  /** Plain AMQP (the `UseDevelopmentEmulator=true` convention); 0 picks a free port. */
  readonly port: number;
  /** AMQP over TLS with the emulator's certificate; undefined to not listen. */
  readonly tlsPort: number | undefined;
  readonly tls: TlsMaterial;
  readonly hubName: string;
  /** Consumer groups besides `$Default`. */
  readonly consumerGroups: readonly string[];
  readonly createdAt: Date;
  readonly store: EventStore;
  readonly policy: (keyName: string) => SharedAccessPolicy | undefined;
  /** Connections still opening (TLS, SASL, OPEN) at most, and how long each may take. */
  readonly pendingLimits: PendingConnectionLimits;
  readonly log: Logger;
}

const RUNTIME_METRIC_CAPABILITY = 'com.microsoft:enable-receiver-runtime-metric';
const EPOCH_PROPERTY = 'com.microsoft:epoch';
const PARTITION_ADDRESS = /^\/?([^/]+)\/ConsumerGroups\/([^/]+)\/Partitions\/([^/]+)$/i;

/** The connection's valid claims: token scope (a path) to expiry, from `$cbs` put-token. */
type Claims = Map<string, number>;

/**
 * IoT Hub's built-in Event Hub-compatible endpoint, over AMQP 1.0 with rhea: SASL ANONYMOUS and MSSBCBS, claims
 * through `$cbs`, `$management` READ, and one receiver link per consumer group and partition, fed from the durable
 * event store with credit-based flow. The endpoint is read-only, as IoT Hub's is.
 */
export class AmqpFront {
  private readonly claims = new WeakMap<Connection, Claims>();
  private readonly consumers = new Map<
    Sender,
    { key: string; consumer: PartitionConsumer; partition: string }
  >();
  private readonly registry = new ConsumerRegistry();
  private readonly sockets = new Set<Socket>();
  private readonly pending: PendingConnections;
  /** The stream under each rhea connection, to close it after a framing violation. */
  private readonly streams = new WeakMap<Connection, InspectedStream>();
  private readonly consumerGroups: ReadonlySet<string>;
  /** Links whose claim expires without renewal are closed, as Event Hubs does, idle or not. */
  private readonly claimCheck = setInterval(() => {
    for (const { consumer } of this.consumers.values()) consumer.recheckAccess();
  }, 1000).unref();

  private constructor(
    private readonly options: AmqpFrontOptions,
    private readonly container: Container,
    private readonly servers: Server[],
  ) {
    this.pending = new PendingConnections('AMQP', options.pendingLimits, options.log);
    this.consumerGroups = new Set([
      '$default',
      ...options.consumerGroups.map((group) => group.toLowerCase()),
    ]);
  }

  static async start(options: AmqpFrontOptions): Promise<AmqpFront> {
    const container = create_container({ id: `${options.hubName}-event-hub-endpoint` });
    const mechanisms = container.sasl_server_mechanisms as {
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
    const servers: Server[] = [];
    const front = new AmqpFront(options, container, servers);
    const accept = (socket: PeerSocket) => {
      front.accept(socket);
    };
    try {
      servers.push(await listen(createTcpServer(accept), options.port, options.host));
      if (options.tlsPort !== undefined) {
        const tlsServer = createTlsServer(
          {
            key: options.tls.key,
            cert: options.tls.cert,
            minVersion: 'TLSv1.2',
            handshakeTimeout: options.pendingLimits.timeoutMs,
          },
          accept,
        );
        servers.push(await listen(tlsServer, options.tlsPort, options.host));
      }
    } catch (error) {
      await Promise.all(servers.map((server) => closeServer(server)));
      throw error;
    }
    for (const server of servers) {
      server.on('connection', (socket: Socket) => {
        if (!front.pending.admit(socket)) return;
        front.sockets.add(socket);
        socket.once('close', () => front.sockets.delete(socket));
      });
    }
    front.wire();
    return front;
  }

  get port(): number {
    return portOf(this.servers[0]);
  }

  get tlsPort(): number | undefined {
    return this.servers[1] ? portOf(this.servers[1]) : undefined;
  }

  /**
   * Serves one client connection: its bytes pass a frame guard before rhea reads them, and rhea's OPEN advertises
   * the frame size the guard enforces.
   */
  private accept(socket: PeerSocket): void {
    const connection = this.container.create_connection({
      // rhea types these options for dialling out; a server connection needs none of host, port or transport.
      port: 0,
      max_frame_size: MAX_FRAME_BYTES,
    });
    const guard = new AmqpFrameGuard((violation) => {
      this.closeForViolation(connection, stream, violation);
    });
    const stream = new InspectedStream(socket, guard);
    this.streams.set(connection, stream);
    // `accept` is how rhea serves a socket it did not create (container.listen and websocket_accept use it); its
    // typings leave it out.
    (connection as unknown as { accept(socket: InspectedStream): void }).accept(stream);
  }

  /**
   * Closes a connection whose client broke the framing rules: with a CLOSE frame carrying the error once the
   * connection is open, else at once (before OPEN there is nothing to say it with).
   */
  private closeForViolation(
    connection: Connection,
    stream: InspectedStream,
    violation: FrameViolation,
  ): void {
    this.options.log.warn(
      `AMQP connection from ${stream.remoteAddress ?? '?'} closed: ${violation.condition}: ${violation.description}`,
    );
    if (connection.is_open()) {
      connection.close({ condition: violation.condition, description: violation.description });
      setTimeout(() => stream.destroy(), 1000).unref();
    } else {
      stream.destroy();
    }
  }

  private wire(): void {
    const { container, options } = this;
    container.on('connection_open', (context: EventContext) => {
      const stream = this.streams.get(context.connection);
      if (stream) this.pending.authenticated(stream);
    });
    // rhea prints a read error with the whole buffer it could not parse (which may hold a token) unless someone
    // listens: log what kind of error it was, never the bytes.
    container.on('protocol_error', (error: Error) => {
      options.log.warn(`AMQP connection closed on a protocol error: ${describeProtocolError(error)}`);
    });
    container.on('receiver_open', (context: EventContext) => {
      if (context.receiver) this.onClientSender(context.receiver);
    });
    container.on('sender_open', (context: EventContext) => {
      if (context.sender) this.onClientReceiver(context.sender, context.connection);
    });
    container.on('message', (context: EventContext) => {
      this.onRequest(context);
    });
    container.on('sendable', (context: EventContext) => {
      if (context.sender) this.consumers.get(context.sender)?.consumer.wake();
    });
    const forget = (context: EventContext) => {
      if (context.sender) this.forgetConsumer(context.sender);
    };
    container.on('sender_close', forget);
    container.on('sender_error', forget);
    // A client may end its session or connection without detaching its links first: rhea then raises no
    // per-link event, so consumers are forgotten by session and connection as well.
    const forgetWhere = (belongs: (sender: Sender) => boolean) => {
      for (const sender of [...this.consumers.keys()]) if (belongs(sender)) this.forgetConsumer(sender);
    };
    const forgetConnection = (context: EventContext) => {
      forgetWhere((sender) => sender.connection === context.connection);
    };
    const forgetSession = (context: EventContext) => {
      forgetWhere((sender) => sender.session === context.session);
    };
    container.on('disconnected', forgetConnection);
    container.on('connection_close', forgetConnection);
    container.on('connection_error', forgetConnection);
    container.on('session_close', forgetSession);
    container.on('session_error', forgetSession);
    container.on('error', (error: Error) => {
      options.log.warn(`AMQP: ${error.message}`);
    });
    options.store.on('appended', this.onAppended);
  }

  private readonly onAppended = (event: TelemetryEvent): void => {
    for (const { consumer, partition } of this.consumers.values()) {
      if (partition === event.partitionId) consumer.wake();
    }
  };

  /** A client sending: only to `$cbs` and `$management`; telemetry arrives over MQTT, not here. */
  private onClientSender(receiver: Receiver): void {
    const address = (receiver.target as { address?: string } | undefined)?.address;
    if (address === '$cbs' || address === '$management') {
      receiver.set_target({ address });
      // The .NET client sends its requests pre-settled, all with an empty delivery tag, and follows the settle
      // mode the attach reply states: anything but "settled" makes it track them and fail on the second one.
      localAttach(receiver).snd_settle_mode = 1;
      return;
    }
    this.refuse(receiver, {
      condition: 'amqp:not-allowed',
      description: `IoT Hub's Event Hub-compatible endpoint is read-only: "${String(address)}" cannot be sent to. Devices send telemetry over MQTT.`,
    });
  }

  /** A client receiving: replies of `$cbs`/`$management`, or events of a partition. */
  private onClientReceiver(sender: Sender, connection: Connection): void {
    const source = sender.source as { address?: string; filter?: Record<string, unknown> } | undefined;
    const address = source?.address ?? '';
    if (address === '$cbs' || address === '$management') {
      sender.set_source({ address });
      localAttach(sender).snd_settle_mode = 1;
      return;
    }
    const match = PARTITION_ADDRESS.exec(address);
    const [, hub = '', group = '', partitionId = ''] = match ?? [];
    if (!match || hub.toLowerCase() !== this.options.hubName.toLowerCase()) {
      this.refuse(sender, {
        condition: 'amqp:not-found',
        description: `The messaging entity "${address}" could not be found. Read from ${this.options.hubName}/ConsumerGroups/<group>/Partitions/<id>.`,
      });
      return;
    }
    if (!this.consumerGroups.has(group.toLowerCase())) {
      this.refuse(sender, {
        condition: 'amqp:not-found',
        // "The messaging entity ... could not be found" is how the .NET client recognises a permanent not-found.
        description: `The messaging entity '${address}' could not be found: the consumer group "${group}" does not exist on "${hub}". Groups: ${[...this.consumerGroups].join(', ')}.`,
      });
      return;
    }
    const partition = this.options.store.partition(partitionId);
    if (!partition) {
      this.refuse(sender, {
        condition: 'com.microsoft:argument-out-of-range',
        description: `The partition "${partitionId}" does not exist: use 0 to ${this.options.store.partitionCount - 1}.`,
      });
      return;
    }
    const path = entityPath(address);
    const denied = this.checkClaim(connection, path);
    if (denied) {
      this.refuse(sender, denied);
      return;
    }
    let start: number;
    try {
      start = partition.resolve(parseSelector(readSelector(source?.filter)));
    } catch (error) {
      if (!(error instanceof SelectorError)) throw error;
      this.refuse(sender, { condition: 'amqp:invalid-field', description: error.message });
      return;
    }
    const epoch = readEpoch(sender.properties as Record<string, unknown> | undefined);
    if (epoch !== undefined && !Number.isSafeInteger(epoch)) {
      this.refuse(sender, {
        condition: 'amqp:invalid-field',
        description: `The epoch (owner level) must be a whole number; got ${String(epoch)}.`,
      });
      return;
    }
    const wantsMetrics = capabilities(sender.desired_capabilities).includes(RUNTIME_METRIC_CAPABILITY);
    const consumer = new PartitionConsumer(sender, partition, start, epoch, wantsMetrics, () =>
      this.checkClaim(connection, path),
    );
    const key = `${group.toLowerCase()}/${partition.partitionId}`;
    const refusal = this.registry.admit(key, consumer);
    if (refusal) {
      this.refuse(sender, refusal);
      return;
    }
    // Echo the source (with its filter) and the capabilities granted: a null source would mean "refused".
    sender.set_source({ address, filter: source?.filter });
    localAttach(sender).snd_settle_mode = 1; // events go pre-settled: nothing to acknowledge, as with Event Hubs
    if (wantsMetrics) localAttach(sender).offered_capabilities = RUNTIME_METRIC_CAPABILITY;
    if (epoch !== undefined) localAttach(sender).properties = { [EPOCH_PROPERTY]: types.wrap_long(epoch) };
    this.consumers.set(sender, { key, consumer, partition: partition.partitionId });
    consumer.wake();
  }

  private forgetConsumer(sender: Sender): void {
    const entry = this.consumers.get(sender);
    if (!entry) return;
    this.consumers.delete(sender);
    entry.consumer.stop();
    this.registry.remove(entry.key, entry.consumer);
  }

  /** Refuses a link as Event Hubs does: the attach goes back without a terminus, then a detach with the error. */
  private refuse(link: Sender | Receiver, refusal: LinkRefusal): void {
    this.options.log.warn(`AMQP link "${link.name}" refused: ${refusal.description}`);
    link.close(refusal);
  }

  /** A refusal unless the connection holds an unexpired claim covering `path`. */
  private checkClaim(connection: Connection, path: string, nowMs = Date.now()): LinkRefusal | undefined {
    const claims = this.claims.get(connection);
    for (const [scope, expiresAtMs] of claims ?? []) {
      if (expiresAtMs > nowMs && covers(scope, path)) return undefined;
    }
    return {
      condition: 'amqp:unauthorized-access',
      description: `Unauthorized access to "${path}": put a valid token for it on $cbs first (or it expired).`,
    };
  }

  private onRequest(context: EventContext): void {
    const { receiver, message, connection } = context;
    if (!receiver || !message) return;
    const address = (receiver.target as { address?: string } | undefined)?.address;
    const properties = (message.application_properties ?? {}) as Record<string, unknown>;
    let reply: RequestReply;
    if (address === '$cbs') {
      reply = this.putToken(connection, properties, message.body);
    } else if (address === '$management') {
      const denied = this.authorizeManagement(connection, properties.security_token);
      reply = denied ?? readManagementRequest(this.options, properties);
    } else {
      return;
    }
    this.reply(connection, message, reply);
  }

  private putToken(connection: Connection, properties: Record<string, unknown>, body: unknown): RequestReply {
    if (properties.operation !== 'put-token') {
      return {
        statusCode: 400,
        errorCondition: 'amqp:not-implemented',
        statusDescription: `The $cbs operation "${String(properties.operation)}" is not supported; use put-token.`,
      };
    }
    const audience = typeof properties.name === 'string' ? properties.name : '';
    if (properties.type === 'jwt') {
      return {
        statusCode: 401,
        errorCondition: 'amqp:unauthorized-access',
        statusDescription:
          'The emulator does not accept Microsoft Entra tokens; use a shared access policy connection string.',
      };
    }
    const token = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '';
    try {
      const verified = verifyEventHubToken(token, audience, this.options.hubName, this.options.policy);
      const claims = this.claims.get(connection) ?? new Map<string, number>();
      claims.set(verified.scope, verified.expiresAtMs);
      this.claims.set(connection, claims);
      return { statusCode: 202, statusDescription: 'Accepted' };
    } catch (error) {
      if (!(error instanceof TokenRefusedError)) throw error;
      this.options.log.warn(`AMQP put-token for "${audience}" refused: ${error.message}`);
      return {
        statusCode: error.statusCode,
        errorCondition: error.statusCode === 404 ? 'amqp:not-found' : 'amqp:unauthorized-access',
        statusDescription: error.message,
      };
    }
  }

  /** `$management` takes the token in the request (JS and .NET send it) or a claim put on `$cbs` before. */
  private authorizeManagement(connection: Connection, securityToken: unknown): RequestReply | undefined {
    const path = `${this.options.hubName.toLowerCase()}/$management`;
    if (typeof securityToken === 'string' && securityToken !== '') {
      try {
        verifyEventHubToken(securityToken, path, this.options.hubName, this.options.policy);
        return undefined;
      } catch (error) {
        if (!(error instanceof TokenRefusedError)) throw error;
        return {
          statusCode: error.statusCode,
          errorCondition: 'amqp:unauthorized-access',
          statusDescription: error.message,
        };
      }
    }
    const denied = this.checkClaim(connection, path);
    return denied
      ? { statusCode: 401, errorCondition: denied.condition, statusDescription: denied.description }
      : undefined;
  }

  /** Sends a reply on the client's link named (or addressed) as the request's `reply_to`. */
  private reply(connection: Connection, request: Message, reply: RequestReply): void {
    const replyTo = request.reply_to;
    const sender = connection.find_sender(
      (link: Sender) =>
        link.name === replyTo || (link.target as { address?: string } | undefined)?.address === replyTo,
    );
    if (!sender) {
      this.options.log.warn(`AMQP: no link "${String(replyTo)}" to reply on; the request is dropped.`);
      return;
    }
    const applicationProperties: Record<string, unknown> = {
      'status-code': types.wrap_int(reply.statusCode),
      'status-description': reply.statusDescription,
    };
    if (reply.errorCondition) applicationProperties['error-condition'] = reply.errorCondition;
    sender.send({
      correlation_id: request.message_id,
      application_properties: applicationProperties,
      body: reply.body ?? null,
    });
  }

  async close(): Promise<void> {
    clearInterval(this.claimCheck);
    this.pending.clear();
    this.options.store.off('appended', this.onAppended);
    for (const { consumer } of this.consumers.values()) consumer.stop();
    this.consumers.clear();
    const closing = this.servers.map((server) => closeServer(server));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
  }
}

function readSelector(filter: Record<string, unknown> | undefined): string | undefined {
  const entry = filter?.[SELECTOR_FILTER_KEY];
  if (entry === undefined) return undefined;
  // rhea gives the described value as is, or unwrapped.
  const value = typeof entry === 'object' && entry !== null && 'value' in entry ? entry.value : entry;
  return typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

function readEpoch(properties: Record<string, unknown> | undefined): number | undefined {
  const epoch = properties?.[EPOCH_PROPERTY];
  if (epoch === undefined || epoch === null) return undefined;
  if (typeof epoch === 'number') return epoch;
  if (Buffer.isBuffer(epoch) && epoch.length === 8) return Number(epoch.readBigInt64BE());
  return Number(epoch);
}

function capabilities(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function listen(server: Server, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/**
 * The kind of a rhea protocol error, without what follows the first colon: rhea's messages end with bytes of the
 * client's input (in hex or as JSON), which must not reach a log.
 */
function describeProtocolError(error: Error): string {
  const kind = error.message.split(':')[0]?.trim() ?? '';
  return kind === '' ? 'unreadable input' : kind.slice(0, 80);
}

function portOf(server: Server | undefined): number {
  const address = server?.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
}
