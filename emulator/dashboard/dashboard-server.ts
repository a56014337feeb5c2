import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { TrackedServer } from '../../devkit/server-base';
import type { Logger } from '../log';
import { AccessGuard, type Refusal } from './access';
import type { DashboardAssets } from './assets';
import { dashboardErrors, errorReplyOf, internalErrorReply } from './errors';
import { activityRoutes } from './handlers/activity';
import { deviceActionRoutes } from './handlers/device-actions';
import { deviceRoutes } from './handlers/devices';
import { matchRoute, type DashboardServices, type Route } from './http/route';

const ROUTES: readonly Route[] = [...activityRoutes, ...deviceRoutes, ...deviceActionRoutes];

/** Headers on every answer: no sniffing, no framing (clickjacking), no Referer (the page URL holds the token). */
const COMMON_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** The page may run only its own script and style, and talk only to its own server. */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const REFUSAL_TEXT: Readonly<Record<Refusal['code'], string>> = {
  ForeignHost: 'The Host header does not name this dashboard (127.0.0.1 or localhost with its port).',
  ForeignOrigin: 'Requests from other sites are refused.',
  CrossSiteRequest: 'Requests from other sites are refused.',
  TokenRequired:
    'Give the token from the dashboard URL the emulator printed (Authorization: Bearer <token>).',
};

export interface DashboardServerOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly services: DashboardServices;
  readonly assets: DashboardAssets;
  readonly log: Logger;
}

/**
 * The dashboard's HTTP server: every request passes the site checks (Host, Origin) first, then the page and the
 * API need the token; static files need only the site checks. Routes under /api/ answer JSON.
 */
export class DashboardServer {
  private guard: AccessGuard | undefined;

  private constructor(
    private readonly tracked: TrackedServer<Server>,
    private readonly options: DashboardServerOptions,
  ) {}

  static async start(options: DashboardServerOptions): Promise<DashboardServer> {
    const server = createServer();
    const dashboard = new DashboardServer(new TrackedServer(server), options);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      void dashboard.handle(request, response);
    });
    await dashboard.tracked.listen(options.port, options.host);
    dashboard.guard = new AccessGuard(dashboard.tracked.port, options.token);
    return dashboard;
  }

  get port(): number {
    return this.tracked.port;
  }

  /** The URL to open, with the token. */
  get url(): string {
    return this.guard?.url ?? '';
  }

  close(): Promise<void> {
    return this.tracked.close();
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      await this.route(request, response);
    } catch (error) {
      const reply = errorReplyOf(error);
      if (!reply) {
        this.options.log.warn(`dashboard: ${request.method ?? '?'} failed: ${(error as Error).message}`);
      }
      // A body refused unread is not drained: the connection goes with it.
      if (reply?.status === 413 && !response.headersSent) response.setHeader('connection', 'close');
      this.sendJson(response, reply ?? internalErrorReply());
    }
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const guard = this.guard;
    if (!guard) throw dashboardErrors.notFound();
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };
    const refusal = guard.checkSite({
      host: header('host'),
      origin: header('origin'),
      secFetchSite: header('sec-fetch-site'),
    });
    if (refusal) {
      this.refuse(response, refusal);
      return;
    }
    const url = new URL(request.url ?? '/', 'http://dashboard.invalid');
    const method = request.method ?? 'GET';
    if (url.pathname === '/') {
      if (method !== 'GET') throw dashboardErrors.methodNotAllowed(['GET']);
      this.sendPage(response, guard.hasToken(url.searchParams.get('token') ?? undefined));
      return;
    }
    if (url.pathname.startsWith('/assets/')) {
      if (method !== 'GET') throw dashboardErrors.methodNotAllowed(['GET']);
      this.sendAsset(request, response, url.pathname.slice('/assets/'.length));
      return;
    }
    if (!url.pathname.startsWith('/api/')) throw dashboardErrors.notFound();
    const path = url.pathname.slice('/api/'.length);
    // EventSource cannot send headers: the stream alone takes the token in its URL.
    const token =
      path === 'stream'
        ? (url.searchParams.get('token') ?? undefined)
        : AccessGuard.bearerOf(header('authorization'));
    if (!guard.hasToken(token)) {
      this.refuse(response, { status: 401, code: 'TokenRequired' });
      return;
    }
    const match = matchRoute(ROUTES, method, path);
    if (match.kind === 'none') throw dashboardErrors.notFound();
    if (match.kind === 'wrong-method') throw dashboardErrors.methodNotAllowed(match.allowed);
    const reply = await match.route.handle({
      services: this.options.services,
      params: match.params,
      query: url.searchParams,
      request,
      response,
    });
    if ('streaming' in reply) return;
    this.sendJson(response, reply);
  }

  private refuse(response: ServerResponse, refusal: Refusal): void {
    this.sendJson(response, {
      status: refusal.status,
      body: { error: { code: refusal.code, message: REFUSAL_TEXT[refusal.code] } },
    });
  }

  private sendJson(response: ServerResponse, reply: { status: number; body?: unknown }): void {
    if (response.headersSent) {
      response.end();
      return;
    }
    const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
    response.writeHead(reply.status, {
      ...COMMON_HEADERS,
      'cache-control': 'no-store',
      ...(body === '' ? {} : { 'content-type': 'application/json; charset=utf-8' }),
      'content-length': Buffer.byteLength(body),
    });
    response.end(body);
  }

  private sendPage(response: ServerResponse, withToken: boolean): void {
    const { assets, services } = this.options;
    const html = withToken ? assets.indexHtml(services.hub.hubName) : assets.tokenRequiredHtml();
    response.writeHead(withToken ? 200 : 401, {
      ...COMMON_HEADERS,
      'content-security-policy': PAGE_POLICY,
      'cache-control': 'no-store',
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(html),
    });
    response.end(html);
  }

  private sendAsset(request: IncomingMessage, response: ServerResponse, name: string): void {
    const asset = this.options.assets.get(name);
    if (!asset) throw dashboardErrors.notFound();
    const headers = {
      ...COMMON_HEADERS,
      etag: asset.etag,
      // Revalidated on every load: a rebuilt bundle is picked up at once, an unchanged one costs a 304.
      'cache-control': 'no-cache',
    };
    if (request.headers['if-none-match'] === asset.etag) {
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(200, {
      ...headers,
      'content-type': asset.contentType,
      'content-length': asset.body.length,
    });
    response.end(asset.body);
  }
}
