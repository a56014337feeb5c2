import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { createWebSocketStream, WebSocketServer, type WebSocket } from 'ws';
import type { Logger } from '../../log';
import type { PeerSocket } from '../shared/inspected-stream';

/** Where IoT Hub serves MQTT and AMQP over WebSockets, on its HTTPS port (443). */
export const IOTHUB_WEBSOCKET_PATH = '/$iothub/websocket';

/** The WebSocket subprotocols IoT Hub accepts there, as the SDKs ask for them. */
export const MQTT_SUBPROTOCOL = 'mqtt';
export const AMQP_SUBPROTOCOL = 'AMQPWSB10';

/**
 * Largest WebSocket message the gateway reads. The protocol guards behind it (MQTT packet size, AMQP frame size)
 * decide what a client may send; this only bounds what one message can make the gateway buffer before they see
 * it. An MQTT packet is at most a 256 KB message plus a 64 KB topic; a client may put several AMQP frames of
 * 64 KiB in one message.
 */
const MAX_WEBSOCKET_MESSAGE_BYTES = 1024 * 1024;

/** A front that takes a connection already open over `tlsSocket`, through its usual limits and authentication. */
export type StreamAcceptor = (stream: PeerSocket, tlsSocket: TLSSocket) => void;

export interface WebSocketGatewayOptions {
  /** The MQTT front (subprotocol `mqtt`). */
  readonly mqtt: StreamAcceptor;
  /** IoT Hub's AMQP endpoint (subprotocol `AMQPWSB10`). */
  readonly amqp: StreamAcceptor;
  readonly log: Logger;
}

/**
 * `/$iothub/websocket` on the HTTPS port, as IoT Hub serves it: an upgrade asking for `mqtt` becomes a connection
 * of the MQTT front, one asking for `AMQPWSB10` a connection of IoT Hub's AMQP endpoint, each with the same guards,
 * pending-connection limits and authentication as their TLS ports. Anything else is answered before upgrading:
 * 404 for another path, 400 for a request that is not a WebSocket upgrade or asks for no known subprotocol.
 */
export class WebSocketGateway {
  private readonly servers: Record<'mqtt' | 'amqp', WebSocketServer>;

  constructor(private readonly options: WebSocketGatewayOptions) {
    const server = (protocol: string) =>
      new WebSocketServer({
        noServer: true,
        // The HTTPS server tracks (and on close ends) every connection, upgraded or not.
        clientTracking: false,
        maxPayload: MAX_WEBSOCKET_MESSAGE_BYTES,
        // Compression would let a small message expand in the gateway's memory; IoT Hub's SDKs do not ask for it.
        perMessageDeflate: false,
        handleProtocols: () => protocol,
      });
    this.servers = { mqtt: server(MQTT_SUBPROTOCOL), amqp: server(AMQP_SUBPROTOCOL) };
  }

  /** Answers or takes over one upgrade request of the HTTPS server (its 'upgrade' event). */
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The socket is ours from here: an error on it (a reset) must not become an uncaught exception.
    socket.on('error', () => {
      socket.destroy();
    });
    const path = pathOf(request.url);
    if (path !== IOTHUB_WEBSOCKET_PATH) {
      this.refuse(socket, 404, `no WebSocket endpoint at ${JSON.stringify((path ?? '?').slice(0, 100))}`);
      return;
    }
    if (!(socket instanceof TLSSocket)) {
      this.refuse(socket, 400, 'WebSockets are served over TLS only');
      return;
    }
    if (request.method !== 'GET' || request.headers.upgrade?.toLowerCase() !== 'websocket') {
      this.refuse(socket, 400, 'not a WebSocket upgrade');
      return;
    }
    const kind = subprotocolOf(request.headers['sec-websocket-protocol']);
    if (!kind) {
      this.refuse(
        socket,
        400,
        `the WebSocket subprotocol must be "${MQTT_SUBPROTOCOL}" or "${AMQP_SUBPROTOCOL}"`,
      );
      return;
    }
    // ws checks the rest of the handshake (key, version) and answers 400 itself when it is wrong.
    this.servers[kind].handleUpgrade(request, socket, head, (webSocket) => {
      const stream = peerStream(webSocket, socket);
      this.options[kind](stream, socket);
    });
  }

  private refuse(socket: Duplex, status: 400 | 404, reason: string): void {
    const peer = (socket as PeerSocket).remoteAddress ?? '?';
    this.options.log.warn(`refused a WebSocket upgrade from ${peer}: ${reason}`);
    const body = `${reason}\n`;
    socket.once('finish', () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
        `Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
}

/** The request's path, percent-decoded (`/%24iothub/websocket` is the same path); undefined when unreadable. */
function pathOf(url: string | undefined): string | undefined {
  try {
    return decodeURIComponent(new URL(url ?? '/', 'https://localhost').pathname);
  } catch {
    return undefined;
  }
}

/** Which front a `Sec-WebSocket-Protocol` list asks for, by the first known subprotocol in it. */
function subprotocolOf(header: string | undefined): 'mqtt' | 'amqp' | undefined {
  for (const offered of (header ?? '').split(',').map((value) => value.trim())) {
    if (offered === MQTT_SUBPROTOCOL) return 'mqtt';
    if (offered === AMQP_SUBPROTOCOL) return 'amqp';
  }
  return undefined;
}

/**
 * The WebSocket's binary messages as a byte stream, carrying the TLS connection's peer address and port: the
 * fronts' pending-connection bookkeeping and logs know a connection by them.
 */
function peerStream(webSocket: WebSocket, socket: TLSSocket): PeerSocket {
  const stream = createWebSocketStream(webSocket);
  // The front's stream wrapper handles the first error; later ones (a reset after a close frame) only end it.
  stream.on('error', () => {
    stream.destroy();
  });
  return Object.assign(stream, { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort });
}
