import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { TrackedServer } from '../../../devkit/server-base';
import type { TlsMaterial } from '../../certificates';
import { errorBody, HubError, type ErrorBodyShape } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import { PACKAGE_INFO } from '../../package-info';
import { checkApiVersion } from './api-versions';
import { cloudToDeviceRoutes } from './handlers/cloud-to-device';
import { deviceRoutes } from './handlers/devices';
import { jobRoutes } from './handlers/jobs';
import { methodRoutes } from './handlers/methods';
import { moduleRoutes } from './handlers/modules';
import { queryRoutes } from './handlers/query';
import { isHealthCheck, type HealthReport } from './health';
import { twinRoutes } from './handlers/twins';
import { parseRequestUrl, pathSegments, readJsonBody, resourceOf } from './request';
import { matchRoute, rightFor, type Route } from './route-table';

export interface HttpsFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly hub: IotHub;
  readonly log: Logger;
}

/** Every resource the service API serves, one handler file per kind of resource. */
const ROUTES: readonly Route[] = [
  ...methodRoutes,
  ...twinRoutes,
  ...queryRoutes,
  ...deviceRoutes,
  ...moduleRoutes,
  ...cloudToDeviceRoutes,
  ...jobRoutes,
];

/**
 * The service side over HTTPS: IoT Hub's REST API. Each request goes through the same steps, in IoT Hub's order:
 * authenticate (401 before anything else), route (404/405), api-version (400), authorize for the route's right and
 * resource (401/403), read the body (413/400), handle; errors in the hub's codes and body shapes.
 */
export class HttpsFront {
  private constructor(
    private readonly options: HttpsFrontOptions,
    private readonly server: TrackedServer,
  ) {}

  static async start(options: HttpsFrontOptions): Promise<HttpsFront> {
    const ref: { front?: HttpsFront } = {};
    const https = createServer(
      { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', keepAliveTimeout: 65_000 },
      (request, response) => {
        void ref.front?.serve(request, response);
      },
    );
    const front = new HttpsFront(options, new TrackedServer(https));
    ref.front = front;
    await front.server.listen(options.port, options.host);
    return front;
  }

  get port(): number {
    return this.server.port;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const { hub, log } = this.options;
    if (isHealthCheck(request.method, request.url)) {
      const report: HealthReport = { status: 'Healthy', ...PACKAGE_INFO, hubName: hub.hubName };
      send(response, 200, report);
      return;
    }
    let shape: ErrorBodyShape = 'error-code-prefix';
    try {
      const caller = hub.authenticateService(request.headers.authorization);
      const url = parseRequestUrl(request.url);
      const segments = pathSegments(url.pathname);
      const { route, params } = matchRoute(ROUTES, request.method ?? 'GET', segments);
      shape = route.shape;
      checkApiVersion(url.searchParams.get('api-version'));
      hub.authorizeService(caller, rightFor(route, caller.policy), resourceOf(segments));
      const body = await readJsonBody(request);
      const reply = await route.handle({ hub, params, body, request });
      send(response, reply.status, reply.body, reply.headers);
    } catch (error) {
      const hubError = error instanceof HubError ? error : undefined;
      if (!hubError)
        log.warn(`internal error on ${request.method ?? '?'} ${request.url ?? '?'}: ${String(error)}`);
      const failure = hubError ?? new HubError(500, 500001, 'ServerError', 'Internal error in the emulator.');
      const { body, trackingId } = errorBody(failure, shape);
      send(response, failure.httpStatus, body, {
        'iothub-errorcode': failure.codeName,
        'x-ms-request-id': trackingId,
        // The rest of an oversized body is not worth reading: the connection ends with this answer.
        ...(failure.httpStatus === 413 ? { connection: 'close' } : {}),
      });
    }
  }
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    ...(text === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
