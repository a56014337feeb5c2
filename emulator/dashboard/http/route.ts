import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IotHub } from '../../hub/hub';
import type { DeviceTransportName } from '../api-types';
import type { ReadModel } from '../read-model';
import type { EventStream } from '../stream';

export type KeyName = 'primary' | 'secondary';

/** What the API handlers work with: the hub (to act), the read model (to show), the stream. */
export interface DashboardServices {
  readonly hub: IotHub;
  readonly model: ReadModel;
  readonly stream: EventStream;
  /** A device's connection string with the chosen key, pointing at the chosen transport's port. */
  readonly connectionString: (deviceId: string, key: KeyName, transport: DeviceTransportName) => string;
}

export interface RouteContext {
  readonly services: DashboardServices;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

/** A JSON answer, or `streaming` when the handler took the response over (Server-Sent Events). */
export type Reply = { readonly status: number; readonly body?: unknown } | { readonly streaming: true };

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
  readonly method: HttpMethod;
  /** Under /api/, with `{name}` for a path segment. */
  readonly path: string;
  handle(context: RouteContext): Promise<Reply>;
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly route: Route; readonly params: Record<string, string> }
  | { readonly kind: 'wrong-method'; readonly allowed: readonly HttpMethod[] }
  | { readonly kind: 'none' };

/**
 * Finds the route for a path under /api/ (segments still percent-encoded). Device ids may hold `%`, `(`, `'` and
 * the like, so each segment is decoded on its own after the split: an encoded `/` stays inside its segment.
 */
export function matchRoute(routes: readonly Route[], method: string, path: string): RouteMatch {
  const segments = path.split('/');
  const allowed: HttpMethod[] = [];
  for (const route of routes) {
    const params = matchSegments(route.path.split('/'), segments);
    if (!params) continue;
    if (route.method === method) return { kind: 'found', route, params };
    allowed.push(route.method);
  }
  return allowed.length > 0 ? { kind: 'wrong-method', allowed } : { kind: 'none' };
}

function matchSegments(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i] ?? '';
    const actual = segments[i] ?? '';
    if (expected.startsWith('{') && expected.endsWith('}')) {
      if (actual === '') return undefined;
      let decoded: string;
      try {
        decoded = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
      params[expected.slice(1, -1)] = decoded;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}
