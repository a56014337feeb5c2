import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  CONNECT_TIMEOUT,
  isValidMethodName,
  METHOD_NAME_RULE,
  METHOD_PAYLOAD_MAX_BYTES,
  methodPayloadProblem,
  readTimeoutSeconds,
  RESPONSE_TIMEOUT,
  timeoutRule,
  type SecondsRange,
} from '../../../src/lib/iothub-rules';
import type { TlsMaterial } from '../../certificates';
import { errorBody, HubError, hubErrors, type ErrorBodyShape } from '../../hub/errors';
import type { Logger } from '../../log';
import type { MethodDispatcher, MethodInvocation } from '../../hub/methods/method-dispatcher';
import type { DeviceRegistry } from '../../hub/registry';
import type { Right } from '../../hub/policies';
import {
  authenticateServiceRequest,
  authorizeServiceCaller,
  type ServiceAuthContext,
} from '../../hub/auth/service-auth';

/**
 * The service API versions IoT Hub publishes (data plane; the SDKs in use send 2021-04-12). Any other value, a
 * future date included, is one the hub does not know: 400 InvalidProtocolVersion. Answers use 2021-04-12 shapes.
 */
const API_VERSIONS: ReadonlySet<string> = new Set([
  '2016-02-03',
  '2016-11-14',
  '2017-06-30',
  '2017-11-08-preview',
  '2018-01-26',
  '2018-04-01',
  '2018-06-30',
  '2018-08-30-preview',
  '2019-03-30',
  '2019-07-01-preview',
  '2019-10-01',
  '2020-03-13',
  '2020-05-31-preview',
  '2020-06-30-preview',
  '2020-09-30',
  '2021-04-12',
]);
const CURRENT_API_VERSION = '2021-04-12';
/** Room for the JSON envelope around a 128 KB payload. */
const MAX_BODY_BYTES = METHOD_PAYLOAD_MAX_BYTES + 16 * 1024;

export interface RestFrontOptions {
  readonly host: string;
  readonly port: number;
  readonly tls: TlsMaterial;
  readonly auth: ServiceAuthContext;
  readonly registry: DeviceRegistry;
  readonly methods: MethodDispatcher;
  readonly onRegistryChanged: () => Promise<void>;
  readonly log: Logger;
}

interface Route {
  readonly right: Right;
  readonly shape: ErrorBodyShape;
  readonly handle: (request: IncomingMessage, body: unknown) => Promise<Reply>;
}

/** The path segments a request acts on, which the token's `sr` must cover (`devices/dev1`, `devices`, ...). */
type Resource = readonly string[];

interface Reply {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

/** The service side of the emulator: IoT Hub's REST API over HTTPS (direct methods and the device registry). */
export class RestFront {
  private constructor(
    private readonly options: RestFrontOptions,
    private readonly server: Server,
  ) {}

  static async start(options: RestFrontOptions): Promise<RestFront> {
    const ref: { front?: RestFront } = {};
    const server = createServer(
      { cert: options.tls.cert, key: options.tls.key, minVersion: 'TLSv1.2', keepAliveTimeout: 65_000 },
      (request, response) => {
        void ref.front?.serve(request, response);
      },
    );
    const front = new RestFront(options, server);
    ref.front = front;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return front;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
    this.server.closeAllConnections();
    await closed;
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let shape: ErrorBodyShape = 'error-code-prefix';
    try {
      const caller = authenticateServiceRequest(this.options.auth, request.headers.authorization);
      const url = parseRequestUrl(request.url);
      const segments = pathSegments(url.pathname);
      const route = this.route(request.method ?? 'GET', segments, url.pathname);
      shape = route.shape;
      checkApiVersion(url.searchParams.get('api-version'));
      authorizeServiceCaller(caller, route.right, resourceOf(segments));
      const body = await readJsonBody(request);
      const reply = await route.handle(request, body);
      send(response, reply.status, reply.body, reply.headers);
    } catch (error) {
      const hubError = error instanceof HubError ? error : undefined;
      if (!hubError)
        this.options.log.warn(
          `internal error on ${request.method ?? '?'} ${request.url ?? '?'}: ${String(error)}`,
        );
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

  private route(method: string, segments: readonly string[], pathname: string): Route {
    const [first, deviceId, third, moduleId, fifth] = segments;
    if (first === 'twins' && deviceId !== undefined && third === 'methods' && segments.length === 3) {
      return this.only(method, 'POST', {
        right: 'ServiceConnect',
        shape: 'json-in-message',
        handle: (_r, body) => this.invokeMethod(deviceId, body),
      });
    }
    if (
      first === 'twins' &&
      deviceId !== undefined &&
      third === 'modules' &&
      moduleId !== undefined &&
      fifth === 'methods' &&
      segments.length === 5
    ) {
      return this.only(method, 'POST', {
        right: 'ServiceConnect',
        shape: 'json-in-message',
        handle: () => {
          this.options.registry.get(deviceId); // 404001 first, as the hub checks the device before the module
          return Promise.reject(hubErrors.moduleNotFound(deviceId, moduleId));
        },
      });
    }
    if (first === 'devices' && segments.length === 1) {
      return this.only(method, 'GET', {
        right: 'RegistryRead',
        shape: 'error-code-prefix',
        handle: () => Promise.resolve({ status: 200, body: this.options.registry.list() }),
      });
    }
    if (first === 'devices' && deviceId !== undefined && segments.length === 2) {
      switch (method) {
        case 'GET':
          return {
            right: 'RegistryRead',
            shape: 'error-code-prefix',
            handle: () => Promise.resolve(this.deviceReply(200, deviceId)),
          };
        case 'PUT':
          return {
            right: 'RegistryWrite',
            shape: 'error-code-prefix',
            handle: (request, body) => this.putDevice(deviceId, request, body),
          };
        case 'DELETE':
          return {
            right: 'RegistryWrite',
            shape: 'error-code-prefix',
            handle: (request) => this.deleteDevice(deviceId, request),
          };
        default:
          throw hubErrors.methodNotAllowed(`${method} is not supported on /devices/{id}.`);
      }
    }
    throw hubErrors.notFound(`No such resource: ${pathname.slice(0, 200)}`);
  }

  private only(method: string, expected: string, route: Route): Route {
    if (method !== expected) throw hubErrors.methodNotAllowed(`Use ${expected} on this resource.`);
    return route;
  }

  private async invokeMethod(deviceId: string, body: unknown): Promise<Reply> {
    const invocation = readInvocation(body);
    const device = this.options.registry.find(deviceId);
    if (device?.status !== 'enabled') throw hubErrors.deviceNotFound(deviceId);
    const result = await this.options.methods.invoke(deviceId, invocation);
    return { status: 200, body: { status: result.status, payload: result.payload } };
  }

  private async putDevice(deviceId: string, request: IncomingMessage, body: unknown): Promise<Reply> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw hubErrors.argumentInvalid('The request body must be a device JSON object.');
    }
    this.options.registry.put(deviceId, body, ifMatchOf(request));
    await this.options.onRegistryChanged();
    // IoT Hub answers 200 to a create and to an update.
    return this.deviceReply(200, deviceId);
  }

  private async deleteDevice(deviceId: string, request: IncomingMessage): Promise<Reply> {
    this.options.registry.delete(deviceId, ifMatchOf(request));
    await this.options.onRegistryChanged();
    return { status: 204 };
  }

  private deviceReply(status: number, deviceId: string): Reply {
    const description = this.options.registry.describe(this.options.registry.get(deviceId));
    return { status, body: description, headers: { etag: description.etag } };
  }
}

function readInvocation(body: unknown): MethodInvocation {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw hubErrors.argumentInvalid(
      'The request body must be a JSON object with methodName, payload and timeouts.',
    );
  }
  const { methodName, payload, responseTimeoutInSeconds, connectTimeoutInSeconds } = body as Record<
    string,
    unknown
  >;
  if (typeof methodName !== 'string' || !isValidMethodName(methodName)) {
    throw hubErrors.argumentInvalid(`methodName must be ${METHOD_NAME_RULE}.`);
  }
  const problem = methodPayloadProblem(payload);
  if (problem) throw hubErrors.argumentInvalid(problem.message);
  return {
    methodName,
    payload: payload ?? null,
    responseTimeoutInSeconds: readSeconds(
      'responseTimeoutInSeconds',
      responseTimeoutInSeconds,
      RESPONSE_TIMEOUT,
    ),
    connectTimeoutInSeconds: readSeconds('connectTimeoutInSeconds', connectTimeoutInSeconds, CONNECT_TIMEOUT),
  };
}

function readSeconds(field: string, value: unknown, range: SecondsRange): number {
  const seconds = readTimeoutSeconds(value, range);
  if (seconds === undefined) throw hubErrors.argumentInvalid(timeoutRule(field, range));
  return seconds;
}

function checkApiVersion(version: string | null): void {
  if (!version) {
    throw hubErrors.invalidProtocolVersion(
      `The api-version query parameter is required (for example ${CURRENT_API_VERSION}).`,
    );
  }
  if (!API_VERSIONS.has(version)) {
    throw hubErrors.invalidProtocolVersion(
      `api-version ${JSON.stringify(version.slice(0, 40))} is not a version IoT Hub knows; use ${CURRENT_API_VERSION}.`,
    );
  }
}

/** The request target as a URL; a target no URL parser accepts is the client's error (400), never ours. */
function parseRequestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'https://emulator');
  } catch {
    throw hubErrors.argumentInvalid('The request target is not a valid URL path.');
  }
}

function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s !== '')
    .map(decodeSegment);
}

/**
 * What a token must cover to act on a path: the path itself, with the twin routes (`/twins/{id}...`) counted as
 * the device's (`devices/{id}...`), so that a token scoped to a device reaches that device's twin and methods.
 */
function resourceOf(segments: readonly string[]): Resource {
  return segments[0] === 'twins' ? ['devices', ...segments.slice(1)] : segments;
}

function ifMatchOf(request: IncomingMessage): string | undefined {
  const value = request.headers['if-match'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw hubErrors.argumentInvalid(`Malformed URL segment ${JSON.stringify(segment.slice(0, 200))}.`);
  }
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw hubErrors.messageTooLarge(`The request body exceeds ${MAX_BODY_BYTES} bytes.`);
    }
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8')) as unknown;
  } catch {
    throw hubErrors.formatError('The request body is not valid JSON.');
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
