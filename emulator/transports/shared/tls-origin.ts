import type { TLSSocket } from 'node:tls';

/**
 * The TLS connection each protocol stream arrived on. A device's stream reaches aedes or rhea wrapped (a size
 * guard, or a WebSocket on the HTTPS port), so its authentication looks the TLS socket up here to read what the
 * handshake established (the client certificate of an X.509 device). Weak: entries go with their streams.
 */
const origins = new WeakMap<object, TLSSocket>();

/** Records that `stream` (what the protocol library is handed) runs over `socket`. */
export function rememberTlsOrigin(stream: object, socket: TLSSocket): void {
  origins.set(stream, socket);
}

/** The TLS socket under `stream`, or undefined for a plain (non-TLS) connection. */
export function tlsOriginOf(stream: object): TLSSocket | undefined {
  return origins.get(stream);
}
