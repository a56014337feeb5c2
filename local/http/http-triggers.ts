import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RegisteredFunction } from '../host/functions-core-shim';
import { createInvocationContext, type FunctionsModule } from '../host/invocation';
import { resolveSettingReferences } from '../host/settings';
import { compileRoute, type CompiledRoute } from './http-routes';

/** The Functions host's default limit on request bodies (100 MB). */
const MAX_REQUEST_BYTES = 100 * 1024 * 1024;

/** An HTTP-triggered function as the host serves it: its compiled route, methods and handler. */
export interface HttpFunction {
  readonly name: string;
  readonly route: CompiledRoute;
  readonly methods: ReadonlySet<string> | undefined;
  readonly handler: RegisteredFunction['handler'];
}

/** The function's HTTP trigger, compiled; none when it has another trigger. */
export function toHttpFunction(
  fn: RegisteredFunction,
  settings: Readonly<Record<string, string>>,
): HttpFunction[] {
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

/**
 * Serves one request as the Functions host does: the route under the prefix, the method, the body (413 over the
 * limit), the function called with the library's own HttpRequest and its HttpResponse written back; 404 outside
 * every route, 500 when the function throws.
 */
export async function handleHttpRequest(
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
