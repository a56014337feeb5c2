import type { Logger } from '../../log';
import type { PeerSocket } from './inspected-stream';

/**
 * Defaults: room for a fleet connecting at once, and ten seconds for TLS plus the protocol's handshake. The TLS
 * servers' own handshake timeout is set a second later (TLS_HANDSHAKE_GRACE_MS), so that this one decides.
 */
export const TLS_HANDSHAKE_GRACE_MS = 1000;
export const DEFAULT_PENDING_LIMITS: PendingConnectionLimits = { maxPending: 1000, timeoutMs: 10_000 };

export interface PendingConnectionLimits {
  /** Connections that have not authenticated yet, at most, across the front. */
  readonly maxPending: number;
  /** How long a connection may take to authenticate before it is closed. */
  readonly timeoutMs: number;
}

/**
 * Connections accepted but not yet authenticated, bounded in number and in time, so that a flood of idle or slow
 * sockets cannot hold memory or starve the clients that do authenticate. A connection is known by its peer
 * address and port, which is unique while it is open and the same on the raw socket and on a TLS socket over it.
 */
export class PendingConnections {
  private readonly pending = new Map<string, { socket: PeerSocket; timer: NodeJS.Timeout }>();
  private lastRefusalLogMs = 0;

  constructor(
    private readonly what: string,
    private readonly limits: PendingConnectionLimits,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** Registers a new connection, or closes it (false) when too many are already waiting. */
  admit(socket: PeerSocket): boolean {
    if (this.pending.size >= this.limits.maxPending) {
      socket.destroy();
      const now = Date.now();
      if (now - this.lastRefusalLogMs > 1000) {
        this.lastRefusalLogMs = now;
        this.log.warn(
          `refusing ${this.what} connections: ${this.limits.maxPending} are already waiting to authenticate`,
        );
      }
      return false;
    }
    const key = peerKey(socket);
    const timer = setTimeout(() => {
      this.log.warn(
        `closed a ${this.what} connection from ${socket.remoteAddress ?? '?'}: it did not authenticate within ${this.limits.timeoutMs / 1000} s`,
      );
      // Forgotten before it is closed: by the time the client sees the close, it no longer counts.
      this.forget(key, socket);
      socket.destroy();
    }, this.limits.timeoutMs);
    timer.unref();
    this.pending.set(key, { socket, timer });
    socket.once('close', () => {
      this.forget(key, socket);
    });
    return true;
  }

  /** The connection authenticated: it no longer counts, and its deadline is lifted. */
  authenticated(peer: { readonly remoteAddress?: string; readonly remotePort?: number }): void {
    const key = peerKey(peer);
    const entry = this.pending.get(key);
    if (entry) this.forget(key, entry.socket);
  }

  clear(): void {
    for (const { timer } of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
  }

  private forget(key: string, socket: PeerSocket): void {
    const entry = this.pending.get(key);
    if (entry?.socket !== socket) return;
    clearTimeout(entry.timer);
    this.pending.delete(key);
  }
}

function peerKey(peer: { readonly remoteAddress?: string; readonly remotePort?: number }): string {
  return `${peer.remoteAddress ?? '?'}:${peer.remotePort ?? '?'}`;
}
