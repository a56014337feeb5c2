import type { IncomingMessage } from 'node:http';
import type { DeviceSession } from '../../hub/auth/device-auth';
import type { ErrorBodyShape } from '../../hub/errors';
import { hubErrors } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import { hasRight, type Right, type SharedAccessPolicy } from '../../hub/policies';

/** What a handler answers: a status, a JSON body (or raw bytes, sent as they are) and headers. */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface HandlerContext {
  readonly hub: IotHub;
  /** The `{name}` parts of the route, decoded. */
  readonly params: Readonly<Record<string, string>>;
  /** The JSON body (undefined when empty); for routes with `body: 'raw'`, the bytes as a Buffer. */
  readonly body: unknown;
  readonly request: IncomingMessage;
  readonly query: URLSearchParams;
  /** On device routes: the device the caller authenticated as (its own token or a DeviceConnect policy's). */
  readonly device?: DeviceSession;
}

/** One resource and method of the service API, with the policy right it needs and its error body shape. */
export interface Route {
  readonly method: string;
  /** Segments, `{name}` for a parameter: `twins/{deviceId}/methods`. */
  readonly path: string;
  /** The policy right the operation needs; with several, any one of them grants it. */
  readonly right: Right | readonly [Right, ...Right[]];
  readonly shape: ErrorBodyShape;
  /**
   * Who calls it: the service API (a policy token; the default) or the device API (`devices/{deviceId}/...` as the
   * device itself: its own token, or a policy token with DeviceConnect covering it, as for MQTT CONNECT).
   */
  readonly audience?: 'service' | 'device';
  /** How the body is read: JSON (the default) or raw bytes up to `maxBodyBytes` (device telemetry). */
  readonly body?: 'json' | 'raw';
  readonly maxBodyBytes?: number;
  readonly handle: (context: HandlerContext) => Promise<Reply>;
}

export interface RouteMatch {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * The right to authorize `policy` for on `route`: the first of the route's rights the policy grants, else the first
 * one (which the 403 then names).
 */
export function rightFor(route: Route, policy: SharedAccessPolicy): Right {
  if (typeof route.right === 'string') return route.right;
  return route.right.find((right) => hasRight(policy, right)) ?? route.right[0];
}

/**
 * Finds the route for a method and path: 404 (NotFound) when no route has that path, 405 when routes have it but
 * none takes the method.
 */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  segments: readonly string[],
): RouteMatch {
  let pathMatched = false;
  for (const route of routes) {
    const params = matchPath(route.path, segments);
    if (!params) continue;
    pathMatched = true;
    if (route.method === method) return { route, params };
  }
  if (pathMatched) throw hubErrors.methodNotAllowed(`${method} is not supported on this resource.`);
  throw hubErrors.notFound(`No such resource: /${segments.join('/').slice(0, 200)}`);
}

function matchPath(path: string, segments: readonly string[]): Record<string, string> | undefined {
  const parts = path.split('/');
  if (parts.length !== segments.length) return undefined;
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [index, part] of parts.entries()) {
    const segment = segments[index] ?? '';
    if (part.startsWith('{') && part.endsWith('}')) params[part.slice(1, -1)] = segment;
    // Literal segments without case, as IoT Hub routes them (the Node device SDK writes `devicebound`, the REST
    // reference `deviceBound`); ids in `{}` stay exact.
    else if (part.toLowerCase() !== segment.toLowerCase()) return undefined;
  }
  return params;
}
