import { createServer as createTcpServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import {
  create_container,
  type Connection,
  type ConnectionOptions,
  type Container,
  type EventContext,
} from 'rhea';
import { TrackedServer } from '../../../devkit/server-base';
import type { TlsMaterial } from '../../certificates';
import type { Logger } from '../../log';
import { TLSSocket } from 'node:tls';
import { InspectedStream, type PeerSocket } from '../shared/inspected-stream';
import { rememberTlsOrigin } from '../shared/tls-origin';
import {
  PendingConnections,
  TLS_HANDSHAKE_GRACE_MS,
  type PendingConnectionLimits,
} from '../shared/pending-connections';
import { AmqpFrameGuard, MAX_FRAME_BYTES, type FrameViolation } from './frame-guard';

export interface AmqpServerOptions {
  /** The container id, as OPEN states it. */
  readonly name: string;
  readonly host: string;
  /** Plain AMQP; 0 picks a free port; undefined to not listen. */
  readonly port: number | undefined;
  /** AMQP over TLS with the emulator's certificate; undefined to not listen. */
  readonly tlsPort: number | undefined;
  readonly tls: TlsMaterial;
  /** Connections still opening (TLS, SASL, OPEN) at most, and how long each may take. */
  readonly pendingLimits: PendingConnectionLimits;
  readonly log: Logger;
  /** Defaults for every link of the container (rhea reads link options through the container). */
  readonly linkDefaults?: Readonly<Record<string, unknown>>;
}

/**
 * AMQP 1.0 listeners (plain and TLS) around one rhea container: every connection's bytes pass a frame guard before
 * rhea reads them, OPEN advertises the frame size the guard enforces, connections that do not open in time are
 * closed, and rhea's read errors are logged without the bytes they carry. The endpoint on top handles the
 * container's link and message events.
 */
export class AmqpServer {
  private readonly pending: PendingConnections;
  /** The stream under each rhea connection, to close it after a framing violation. */
  private readonly streams = new WeakMap<Connection, InspectedStream>();
  private plainServer: TrackedServer | undefined;
  private tlsServer: TrackedServer | undefined;

  private constructor(
    private readonly options: AmqpServerOptions,
    readonly container: Container,
  ) {
    this.pending = new PendingConnections('AMQP', options.pendingLimits, options.log);
    container.on('connection_open', (context: EventContext) => {
      const stream = this.streams.get(context.connection);
      if (stream) this.pending.authenticated(stream);
    });
    // rhea prints a read error with the whole buffer it could not parse (which may hold a token) unless someone
    // listens: log what kind of error it was, never the bytes.
    container.on('protocol_error', (error: Error) => {
      options.log.warn(`AMQP connection closed on a protocol error: ${describeProtocolError(error)}`);
    });
    container.on('error', (error: Error) => {
      options.log.warn(`AMQP: ${error.message}`);
    });
  }

  static async start(options: AmqpServerOptions): Promise<AmqpServer> {
    const server = new AmqpServer(options, create_container({ ...options.linkDefaults, id: options.name }));
    const accept = (socket: PeerSocket) => {
      server.accept(socket);
    };
    const admit = (socket: PeerSocket) => server.pending.admit(socket);
    try {
      if (options.port !== undefined) {
        server.plainServer = await new TrackedServer(createTcpServer(accept), admit).listen(
          options.port,
          options.host,
        );
      }
      if (options.tlsPort !== undefined) {
        const tlsServer = createTlsServer(
          {
            key: options.tls.key,
            cert: options.tls.cert,
            minVersion: 'TLSv1.2',
            // Asked, not required: X.509 devices present one, SAS clients on the same port do not.
            requestCert: true,
            rejectUnauthorized: false,
            handshakeTimeout: options.pendingLimits.timeoutMs + TLS_HANDSHAKE_GRACE_MS,
          },
          accept,
        );
        server.tlsServer = await new TrackedServer(tlsServer, admit).listen(options.tlsPort, options.host);
      }
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  get port(): number | undefined {
    return this.plainServer?.port;
  }

  get tlsPort(): number | undefined {
    return this.tlsServer?.port;
  }

  async close(): Promise<void> {
    this.pending.clear();
    await Promise.all([this.plainServer?.close(), this.tlsServer?.close()]);
  }

  /**
   * A connection already open over `tlsSocket` that arrived another way (AMQP over WebSocket on the HTTPS port):
   * counted against the same pending limits, framed, guarded and authenticated as the TLS listener's.
   */
  acceptStream(stream: PeerSocket, tlsSocket: TLSSocket): void {
    if (this.pending.admit(stream)) this.accept(stream, tlsSocket);
  }

  private accept(socket: PeerSocket, tlsSocket?: TLSSocket): void {
    const connection = this.container.create_connection({
      // rhea types these options for dialling out; a server connection needs none of host, port or transport.
      port: 0,
      max_frame_size: MAX_FRAME_BYTES,
      // Every OPEN field is written, null where there is no value: rhea leaves unset trailing fields off, which
      // AMQP allows, but clients that read fields by position (uamqp, azure-eventhub's pure-Python stack) fail.
      ...OPEN_FIELDS_WITHOUT_VALUE,
    } as unknown as ConnectionOptions);
    const guard = new AmqpFrameGuard((violation) => {
      this.closeForViolation(connection, stream, violation);
    });
    const stream = new InspectedStream(socket, guard);
    const origin = tlsSocket ?? (socket instanceof TLSSocket ? socket : undefined);
    if (origin) rememberTlsOrigin(stream, origin);
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
}

/** OPEN's optional fields the emulator has no value for (AMQP 1.0, 2.7.1). */
const OPEN_FIELDS_WITHOUT_VALUE = {
  hostname: null,
  channel_max: 65_535,
  idle_time_out: null,
  outgoing_locales: null,
  incoming_locales: null,
  offered_capabilities: null,
  desired_capabilities: null,
  properties: null,
};

/**
 * The kind of a rhea protocol error, without what follows the first colon: rhea's messages end with bytes of the
 * client's input (in hex or as JSON), which must not reach a log.
 */
function describeProtocolError(error: Error): string {
  const kind = error.message.split(':')[0]?.trim() ?? '';
  return kind === '' ? 'unreadable input' : kind.slice(0, 80);
}
