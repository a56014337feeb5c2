import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Why a request was turned away before any route saw it. */
export type Refusal =
  | { readonly status: 403; readonly code: 'ForeignHost' | 'ForeignOrigin' | 'CrossSiteRequest' }
  | { readonly status: 401; readonly code: 'TokenRequired' };

/** A fresh token per start, as Jupyter does: 256 random bits, URL-safe. */
export function newDashboardToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Who may use the dashboard. The server listens on 127.0.0.1 only, but a page on any site the user visits can
 * still send requests there, so:
 * - the Host header must name the dashboard itself: a DNS-rebinding page (evil.example resolving to 127.0.0.1)
 *   sends its own host name;
 * - an Origin header, which browsers add to cross-origin and state-changing requests, must be the dashboard's:
 *   another site's page cannot call the API (CSRF), even with the token;
 * - every API call and the page itself carry the per-start token from the printed URL, which other local users
 *   and other programs do not have.
 */
export class AccessGuard {
  private readonly hosts: ReadonlySet<string>;
  private readonly origins: ReadonlySet<string>;
  private readonly tokenBytes: Buffer;

  constructor(
    readonly port: number,
    readonly token: string,
  ) {
    this.hosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
    this.origins = new Set([...this.hosts].map((host) => `http://${host}`));
    this.tokenBytes = Buffer.from(token, 'utf8');
  }

  /** The URL to print: it carries the token, as the user must open it once to get in. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/?token=${this.token}`;
  }

  /** The refusal for a request's Host, Origin and Sec-Fetch-Site headers, or undefined when they are the dashboard's. */
  checkSite(headers: {
    readonly host?: string | undefined;
    readonly origin?: string | undefined;
    readonly secFetchSite?: string | undefined;
  }): Refusal | undefined {
    if (headers.host === undefined || !this.hosts.has(headers.host.toLowerCase())) {
      return { status: 403, code: 'ForeignHost' };
    }
    if (headers.origin !== undefined && !this.origins.has(headers.origin.toLowerCase())) {
      return { status: 403, code: 'ForeignOrigin' };
    }
    // Browsers send Sec-Fetch-Site on every request (Chromium, Firefox, Safari): belt and braces for requests
    // that carry no Origin, such as a cross-site GET of an image or a script.
    if (headers.secFetchSite === 'cross-site' || headers.secFetchSite === 'same-site') {
      return { status: 403, code: 'CrossSiteRequest' };
    }
    return undefined;
  }

  /** Whether `candidate` is this start's token; compared in constant time. */
  hasToken(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const given = Buffer.from(candidate, 'utf8');
    return given.length === this.tokenBytes.length && timingSafeEqual(given, this.tokenBytes);
  }

  /** The token of an `Authorization: Bearer <token>` header. */
  static bearerOf(header: string | undefined): string | undefined {
    const match = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(header ?? '');
    return match?.[1];
  }
}
