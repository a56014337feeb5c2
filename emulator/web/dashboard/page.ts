import type { ApiClient } from './api-client';

/** What every page gets from the shell. */
export interface PageContext {
  readonly api: ApiClient;
  readonly token: string;
  /** A short message for screen readers and the status line (results of actions). */
  announce(message: string): void;
  /** A message in the banner: errors stay until dismissed. */
  notify(message: string, kind?: 'error' | 'info'): void;
}

/** A mounted page: its element, its title, and how to stop its streams and timers when the user leaves it. */
export interface Page {
  readonly title: string;
  readonly element: HTMLElement;
  dispose(): void;
}

/** A failure as one line for the banner. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
