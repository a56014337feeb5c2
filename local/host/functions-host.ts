import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { EventHubListener } from '../eventhub/eventhub-listener';
import { startEventHubTriggers, type EventHubFunctionSummary } from '../eventhub/eventhub-triggers';
import { installFunctionsCoreShim, type RegisteredFunction } from './functions-core-shim';
import { loadFunctionApp } from './function-loader';
import { httpRoutePrefix, readHostConfig } from './host-config';
import { compileRoute, type CompiledRoute } from '../http/http-routes';
import { createInvocationContext, functionsModule, type FunctionsModule } from './invocation';
import { isFunctionDisabled, loadLocalSettings, resolveSettingReferences } from './settings';

/** The Functions host's default limit on request bodies (100 MB). */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

export interface FunctionsHostOptions {
  readonly projectDir: string;
  readonly port?: number;
  readonly bindAddress?: string;
  /** Settings that win over local.settings.json and the environment (e.g. the emulator's actual ports). */
  readonly settingsOverrides?: Readonly<Record<string, string>>;
  readonly log?: (line: string) => void;
}

interface HttpFunction {
  readonly name: string;
  readonly route: CompiledRoute;
  readonly methods: ReadonlySet<string> | undefined;
  readonly handler: RegisteredFunction['handler'];
}

/** Trigger types this host runs; functions with others are reported and left out. */
const SUPPORTED_TRIGGERS = new Set(['httptrigger', 'eventhubtrigger']);

/**
 * A local stand-in for the Azure Functions host (development only): it loads the compiled app through package.json
 * `main`, receives the registrations through `@azure/functions-core`, serves HTTP triggers at
 * `/<routePrefix>/<route>` with route parameters, methods and responses as the host does (keys are not enforced,
 * like `func start`), and runs Event Hub triggers as the Event Hubs extension does (see eventhub-listener.ts).
 */
export class FunctionsHost {
  private stopping: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    /** Open connections, destroyed on stop (keep-alive clients would hold the server open). */
    private readonly sockets: Set<Socket>,
    /** Every function the app registered, including disabled ones. */
    readonly functions: readonly RegisteredFunction[],
    /** The functions this host runs. */
    private readonly enabled: readonly RegisteredFunction[],
    readonly routePrefix: string,
    private readonly listeners: readonly EventHubListener[],
    /** Event Hub-triggered functions: what each listens to, or why it does not. */
    readonly eventHubFunctions: readonly EventHubFunctionSummary[],
    /** Where Event Hub checkpoints are kept (when there are Event Hub-triggered functions). */
    readonly checkpointDir: string | undefined,
  ) {}

  static async start(options: FunctionsHostOptions): Promise<FunctionsHost> {
    const log =
      options.log ??
      ((line: string) => {
        console.log(line);
      });
    const settings = loadLocalSettings(options.projectDir);
    const values = { ...settings.values, ...options.settingsOverrides };
    // The host hands app settings to the worker as environment variables.
    for (const [key, value] of Object.entries(values)) process.env[key] = value;

    const registered = installFunctionsCoreShim();
    loadFunctionApp(options.projectDir);

    const hostConfig = readHostConfig(options.projectDir, values);
    const routePrefix = httpRoutePrefix(hostConfig);
    const enabled = registered.filter((fn) => {
      if (isFunctionDisabled(fn.name, values)) {
        log(`[host] Function ${fn.name} is disabled (app setting AzureWebJobs.${fn.name}.Disabled).`);
        return false;
      }
      const trigger = Object.values(fn.bindings).find((b) => b.type.toLowerCase().endsWith('trigger'));
      if (trigger && !SUPPORTED_TRIGGERS.has(trigger.type.toLowerCase())) {
        log(
          `[host] Function ${fn.name} is not started: the local host does not run ${trigger.type} functions.`,
        );
        return false;
      }
      return true;
    });
    const httpFunctions = enabled.flatMap((fn) => toHttpFunction(fn, values));
    const server = createServer((request, response) => {
      void serve(request, response);
    });
    const serve = async (request: IncomingMessage, response: ServerResponse) => {
      try {
        await handleRequest(request, response, httpFunctions, routePrefix, functionsModule, log);
      } catch (error) {
        log(`[host] request failed: ${(error as Error).message}`);
        if (!response.headersSent) response.writeHead(500).end();
      }
    };
    const sockets = new Set<Socket>();
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 7071, options.bindAddress ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    // Listeners start once the port is ours, so that a port in use leaves nothing running behind.
    const eventHubs = startEventHubTriggers({
      functions: enabled,
      settings: values,
      hostConfig,
      projectDir: options.projectDir,
      log,
    });
    return new FunctionsHost(
      server,
      sockets,
      registered,
      enabled,
      routePrefix,
      eventHubs.listeners,
      eventHubs.summaries,
      eventHubs.checkpointDir,
    );
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** HTTP-triggered functions with their URL templates, for the banner. */
  httpRoutes(): { name: string; methods: string; url: string }[] {
    return this.enabled.flatMap((fn) => {
      const trigger = Object.values(fn.bindings).find((b) => b.type === 'httpTrigger');
      if (!trigger) return [];
      const methods = Array.isArray(trigger.methods) ? (trigger.methods as string[]).join(',') : 'ANY';
      const route = typeof trigger.route === 'string' ? trigger.route : fn.name;
      return [
        {
          name: fn.name,
          methods,
          url: `http://localhost:${this.port}/${this.routePrefix ? `${this.routePrefix}/` : ''}${route}`,
        },
      ];
    });
  }

  /** Stops the Event Hub listeners (letting running invocations finish) and the HTTP server. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    await Promise.all(this.listeners.map((listener) => listener.stop()));
    const closed = new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}

function toHttpFunction(fn: RegisteredFunction, settings: Readonly<Record<string, string>>): HttpFunction[] {
  const trigger = Object.values(fn.bindings).find((b) => b.type === 'httpTrigger');
  if (!trigger) return [];
  const routeTemplate =
    typeof trigger.route === 'string'
      ? resolveSettingReferences(trigger.route, settings, `Function ${fn.name}`)
      : fn.name;
  const methods = Array.isArray(trigger.methods)
    ? new Set((trigger.methods as string[]).map((m) => m.toUpperCase()))
    : undefined;
  return [{ name: fn.name, route: compileRoute(routeTemplate), methods, handler: fn.handler }];
}

async function handleRequest(
  request: IncomingMessage,
  response: ServerResponse,
  functions: readonly HttpFunction[],
  routePrefix: string,
  functionsModule: FunctionsModule,
  log: (line: string) => void,
): Promise<void> {
  const url = requestUrl(request);
  if (!url) {
    // What Kestrel (the real host's server) answers to a malformed Host header or request target.
    request.resume();
    response.writeHead(400, { 'content-length': '0', connection: 'close' }).end();
    return;
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const prefixSegments = routePrefix.split('/').filter((s) => s !== '');
  const method = (request.method ?? 'GET').toUpperCase();
  if (segments.length === 0 && method === 'GET') {
    response
      .writeHead(200, { 'content-type': 'text/plain; charset=utf-8' })
      .end('Local Functions host is running.\n');
    return;
  }
  const underPrefix = prefixSegments.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase());
  const routeSegments = underPrefix ? segments.slice(prefixSegments.length) : undefined;
  let target: { fn: HttpFunction; params: Record<string, string> } | undefined;
  if (routeSegments) {
    for (const fn of functions) {
      if (fn.methods && !fn.methods.has(method)) continue;
      const params = fn.route.match(routeSegments);
      if (params) {
        target = { fn, params };
        break;
      }
    }
  }
  if (!target) {
    request.resume();
    response.writeHead(404, { 'content-length': '0' }).end();
    return;
  }

  // A declared length over the limit is refused before a byte of the body is read, as Kestrel does.
  const declared = Number(request.headers['content-length'] ?? 0);
  const body = declared > MAX_REQUEST_BYTES ? undefined : await readBody(request);
  if (body === undefined) {
    response.writeHead(413, { 'content-length': '0', connection: 'close' }).end();
    return;
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const httpRequest = new functionsModule.HttpRequest({
    method,
    url: url.toString(),
    headers,
    query: Object.fromEntries(url.searchParams),
    params: target.params,
    ...(body.length > 0 ? { body: { bytes: body } } : {}),
  });
  const invocationId = randomUUID();
  const name = target.fn.name;
  const context = createInvocationContext({ functionName: name, invocationId, log });

  let result: unknown;
  try {
    result = await target.fn.handler(httpRequest, context);
  } catch (error) {
    // The host answers 500 with no details when a function throws, and logs the exception.
    log(`[${name}] error: Executed '${name}' (Failed, Id=${invocationId}): ${(error as Error).message}`);
    response.writeHead(500, { 'content-length': '0' }).end();
    return;
  }
  if (result === undefined || result === null) {
    response.writeHead(204).end();
    return;
  }
  const httpResponse =
    result instanceof functionsModule.HttpResponse ? result : new functionsModule.HttpResponse(result);
  const responseBody = Buffer.from(await httpResponse.arrayBuffer());
  const outHeaders: Record<string, string> = {};
  httpResponse.headers.forEach((value, key) => {
    outHeaders[key] = value;
  });
  outHeaders['content-length'] = String(responseBody.length);
  response.writeHead(httpResponse.status, outHeaders).end(responseBody);
}

/** A Host header as RFC 9110 allows it: a name, an IPv4 address or a bracketed IPv6 address, then a port. */
const HOST_HEADER = /^(?:[A-Za-z0-9._~!$&'()*+,;=%-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The request's URL, or undefined when its Host header or target is malformed. */
function requestUrl(request: IncomingMessage): URL | undefined {
  const host = request.headers.host ?? 'localhost';
  if (!HOST_HEADER.test(host)) return undefined;
  try {
    return new URL(request.url ?? '/', `http://${host}`);
  } catch {
    return undefined;
  }
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) {
      request.resume();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
