import type { Server, Socket } from 'node:net';

/**
 * A server whose open connections are tracked, so that closing it ends them all and releases its port at once
 * (keep-alive and idle clients would otherwise hold it open). Every server of the emulator and of the local host
 * is one: the HTTPS, MQTT and AMQP fronts and the functions host.
 */
export class TrackedServer<S extends Server = Server> {
  private readonly sockets = new Set<Socket>();

  /** `admit` sees each new connection first; returning false means it closed the socket itself. */
  constructor(
    readonly server: S,
    admit: (socket: Socket) => boolean = () => true,
  ) {
    server.on('connection', (socket: Socket) => {
      if (!admit(socket)) return;
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** Listens on `port` (0 picks a free one) and `host`; rejects when the port cannot be had (EADDRINUSE). */
  listen(port: number, host: string): Promise<this> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve(this);
      });
    });
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Stops accepting, ends every open connection, and resolves once the port is released. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
