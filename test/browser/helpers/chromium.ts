import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's chromium package (`.ci/run` installs it); CHROMIUM_PATH points elsewhere. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A laptop screen: what the dashboard must read well on. */
export const LAPTOP_VIEWPORT = { width: 1440, height: 900 } as const;

/** Headless Chromium, driven by playwright-core with the system's browser (nothing downloaded). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `No Chromium at ${CHROMIUM_PATH}: install it (apt-get install -y chromium) or set CHROMIUM_PATH.`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    // Root in CI and containers: Chromium's sandbox needs user namespaces it may not have there.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
}

/** Errors the page threw or logged: a test fails on them instead of passing over a broken page. */
export function collectPageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return errors;
}

/**
 * The little of the DOM that in-page checks use: they run in the browser, but the tests are compiled for Node,
 * without the DOM's types. Inside a function passed to `page.waitForFunction`, write
 * `(globalThis as unknown as InPage).document` (the function is serialised: it cannot call helpers from here).
 */
export interface InPage {
  readonly document: {
    querySelector(selector: string): InPageElement | null;
    querySelectorAll(selector: string): ArrayLike<InPageElement>;
    readonly activeElement: InPageElement | null;
  };
  readonly navigator: { readonly clipboard: { readText(): Promise<string> } };
}

export interface InPageElement {
  readonly textContent: string | null;
  getAttribute(name: string): string | null;
}
