import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** The browser code, bundled by the package's build (esbuild, emulator/web/dashboard) next to the compiled server. */
const FILES: Readonly<Record<string, string>> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'app.js.map': 'application/json; charset=utf-8',
  'app.css.map': 'application/json; charset=utf-8',
};

/** Under ts-jest this file runs from source: the bundle is in the package's build output all the same. */
export const ASSETS_DIR = __filename.endsWith('.ts')
  ? join(__dirname, '..', 'dist', 'emulator', 'dashboard', 'public')
  : join(__dirname, 'public');

/**
 * The dashboard's static files, read once at start (about 100 KB) and served from memory with an ETag: everything
 * the page needs comes from the emulator, nothing from a CDN.
 */
export class DashboardAssets {
  private constructor(private readonly files: ReadonlyMap<string, Asset>) {}

  static load(dir: string = ASSETS_DIR): DashboardAssets {
    const files = new Map<string, Asset>();
    for (const [name, contentType] of Object.entries(FILES)) {
      const path = join(dir, name);
      if (!existsSync(path)) continue;
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      files.set(name, { body, contentType, etag });
    }
    return new DashboardAssets(files);
  }

  /** Whether the bundle is there (`npm run build` makes it). */
  get built(): boolean {
    return this.files.has('app.js') && this.files.has('app.css');
  }

  get(name: string): Asset | undefined {
    return this.files.get(name);
  }

  /** The page: a shell the script fills in. The hub name is the only value in it, escaped all the same. */
  indexHtml(hubName: string): string {
    const title = `${escapeHtml(hubName)} · IoT Hub emulator`;
    if (!this.built) {
      return page(
        title,
        '<main class="notice"><h1>The dashboard is not built</h1><p>Run <code>npm run build</code>, then start the emulator again.</p></main>',
        false,
      );
    }
    return page(title, '<div id="app"><p class="notice">Loading…</p></div>', true);
  }

  /** What a request without the token gets: where the token is, not the dashboard. */
  tokenRequiredHtml(): string {
    return page(
      'Token required · IoT Hub emulator',
      '<main class="notice"><h1>Open the dashboard with its token</h1><p>The emulator printed the dashboard URL ' +
        'when it started: it ends with <code>?token=…</code>, a new one at each start. Open that URL.</p></main>',
      false,
    );
  }
}

function page(title: string, body: string, withScript: boolean): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${title}</title>`,
    '<link rel="icon" href="data:,">',
    withScript ? '<link rel="stylesheet" href="/assets/app.css">' : '',
    withScript ? '<script src="/assets/app.js" defer></script>' : '',
    '</head>',
    `<body>${body}</body>`,
    '</html>',
  ].join('\n');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
