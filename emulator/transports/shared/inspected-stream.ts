import { Duplex } from 'node:stream';

/** A socket as the fronts receive it from Node's TCP and TLS servers. */
export type PeerSocket = Duplex & { readonly remoteAddress?: string; readonly remotePort?: number };

/**
 * Reads what a client sends before the protocol library sees it. Returns false to stop the connection: nothing of
 * the refused chunk, or of anything after it, reaches the library.
 */
export interface StreamInspector {
  inspect(chunk: Buffer): boolean;
}

/**
 * A pass-through duplex between a client's socket and a protocol library (aedes, rhea), so that framing limits are
 * enforced on the bytes as they arrive, before the library buffers a frame of any announced size. Writes go
 * straight to the socket; closing either side closes both.
 */
export class InspectedStream extends Duplex {
  private stopped = false;

  constructor(
    readonly socket: PeerSocket,
    private readonly inspector: StreamInspector,
  ) {
    super({ allowHalfOpen: false });
    socket.on('data', (chunk: Buffer) => {
      if (this.stopped) return;
      if (!this.inspector.inspect(chunk)) {
        this.stopped = true;
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.once('end', () => this.push(null));
    socket.once('error', (error) => this.destroy(error));
    socket.once('close', () => this.destroy());
  }

  /** The peer's address, as the libraries and the logs read it from a socket. */
  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  /** Whether the inspector refused what the client sent. */
  get refused(): boolean {
    return this.stopped;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  /**
   * What the library wrote while the stream was corked (mqtt-packet corks for each packet and writes its header,
   * topic and payload separately), as one socket write: over TLS, one record and one system call per packet
   * instead of one per piece.
   */
  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    callback: (error?: Error | null) => void,
  ): void {
    const first = chunks[0];
    this.socket.write(
      chunks.length === 1 && first ? first.chunk : Buffer.concat(chunks.map((c) => c.chunk)),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
