import { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { TrackedServer } from '../../../devkit/server-base';
import type { TlsMaterial } from '../../certificates';
import type { DeviceSession } from '../../hub/auth/device-auth';
import { errorBody, HubError, hubErrors, type ErrorBodyShape } from '../../hub/errors';
import type { IotHub } from '../../hub/hub';
import type { Logger } from '../../log';
import { PACKAGE_INFO } from '../../package-info';
import { checkApiVersion } from './api-versions';
import { authenticateCaller, authorizeDeviceCaller } from './callers';
import { cloudToDeviceRoutes } from './handlers/cloud-to-device';
import { deviceFileRoutes } from './handlers/device-files';
import { deviceMessageRoutes } from './handlers/device-messages';
import { certificateRoutes } from './handlers/certificates';
import { deviceRoutes } from './handlers/devices';
import { jobRoutes } from './handlers/jobs';
import { methodRoutes } from './handlers/methods';
import { moduleRoutes } from './handlers/modules';
import { queryRoutes } from './handlers/query';
import { isHealthCheck, type HealthReport } from './health';
import { twinRoutes } from './handlers/twins';
import { parseRequestUrl, pathSegments, readJsonBody, readRawBody, resourceOf } from './request';
import { matchRoute, rightFor, type Route } from './route-table';

export interface HttpsFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly hub: IotHub;
  readonly log: Logger;
}

/** Every resource the service and device APIs serve, one handler file per kind of resource. */
const ROUTES: readonly Route[] = [
  ...deviceMessageRoutes,
  ...deviceFileRoutes,
  ...methodRoutes,
  ...twinRoutes,
  ...queryRoutes,
  ...deviceRoutes,
  ...moduleRoutes,
  ...cloudToDeviceRoutes,
  ...jobRoutes,
  ...certificateRoutes,
];

/**
 * IoT Hub's REST API over HTTPS: the service API and the device API (telemetry, cloud-to-device polling, file
 * upload). Each request goes through the same steps, in IoT Hub's order: authenticate (401 before anything else),
 * route (404/405), api-version (400), authorize for the route's right and resource, or as the device for device
 * routes (401/403), read the body (413/400), handle; errors in the hub's codes and body shapes.
 */
export class HttpsFront {
  private constructor(
    private readonly options: HttpsFrontOptions,
    private readonly server: TrackedServer,
  ) {}

  static async start(options: HttpsFrontOptions): Promise<HttpsFront> {
    const ref: { front?: HttpsFront } = {};
    const https = createServer(
      {
        cert: options.tls.cert,
        key: options.tls.key,
        minVersion: 'TLSv1.2',
        keepAliveTimeout: 65_000,
        // Asked, not required: X.509 devices (WebSockets, device routes) present one; other clients do not.
        requestCert: true,
        rejectUnauthorized: false,
      },
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

  /**
   * Hands requests that ask to upgrade (WebSockets on `/$iothub/websocket`) to `listener`, with the connection's
   * socket (a TLSSocket): the listener answers or takes over every one of them.
   */
  onUpgrade(listener: (request: IncomingMessage, socket: Duplex, head: Buffer) => void): void {
    this.server.server.on('upgrade', listener);
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
      const authorization = request.headers.authorization;
      // The device API also takes X.509 devices: no token, a client certificate (the server asks for one).
      const socket = request.socket instanceof TLSSocket ? request.socket : undefined;
      const caller = authenticateCaller(hub, authorization, socket);
      const url = parseRequestUrl(request.url);
      const segments = pathSegments(url.pathname);
      const { route, params } = matchRoute(ROUTES, request.method ?? 'GET', segments);
      shape = route.shape;
      checkApiVersion(url.searchParams.get('api-version'));
      let device: DeviceSession | undefined;
      if (route.audience === 'device') {
        device = authorizeDeviceCaller(hub, caller, authorization, params.deviceId ?? '');
      } else if (caller.kind === 'policy') {
        hub.authorizeService(caller.caller, rightFor(route, caller.caller.policy), resourceOf(segments));
      } else {
        throw hubErrors.unauthorized(
          'A device token or certificate does not grant the service API: use a shared access policy token (skn).',
        );
      }
      const body =
        route.body === 'raw'
          ? await readRawBody(request, route.maxBodyBytes)
          : await readJsonBody(request, route.maxBodyBytes);
      const reply = await route.handle({
        hub,
        params,
        body,
        request,
        query: url.searchParams,
        ...(device ? { device } : {}),
      });
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
  if (Buffer.isBuffer(body)) {
    // Raw bytes (a cloud-to-device message body): sent as they are, with the handler's content type.
    response.writeHead(status, { ...headers, 'content-length': body.length });
    response.end(body);
    return;
  }
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, {
    ...headers,
    ...(text === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
    'content-length': Buffer.byteLength(text),
  });
  response.end(text);
}
