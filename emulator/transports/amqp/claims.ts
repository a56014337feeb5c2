import type { Connection } from 'rhea';
import { covers } from '../../hub/auth/event-hub-auth';
import type { LinkRefusal } from './consumer-registry';

/**
 * The claims each connection holds, from `$cbs` put-token: a token scope (an entity path) and when it expires.
 * A link is allowed while a claim of its connection covers its path.
 */
export class ClaimStore {
  private readonly claims = new WeakMap<Connection, Map<string, number>>();

  put(connection: Connection, scope: string, expiresAtMs: number): void {
    const claims = this.claims.get(connection) ?? new Map<string, number>();
    claims.set(scope, expiresAtMs);
    this.claims.set(connection, claims);
  }

  /** A refusal unless the connection holds an unexpired claim covering `path`. */
  check(connection: Connection, path: string, nowMs = Date.now()): LinkRefusal | undefined {
    for (const [scope, expiresAtMs] of this.claims.get(connection) ?? []) {
      if (expiresAtMs > nowMs && covers(scope, path)) return undefined;
    }
    return {
      condition: 'amqp:unauthorized-access',
      description: `Unauthorized access to "${path}": put a valid token for it on $cbs first (or it expired).`,
    };
  }
}
