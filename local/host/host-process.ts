import { join } from 'node:path';
import { forkUntilReady } from '../../devkit/child-process';
import { HOST_OVERRIDES_ENV, type HostChildMessage, type HostParentMessage } from './host-ipc';

export interface LocalHostProcess {
  readonly port: number;
  /** The host's process id, for diagnostics and benchmarks. */
  readonly pid: number;
  readonly baseUrl: string;
  logs(): string;
  /** Resolves with the logs once `condition(logs)` holds (checked on every output); rejects after `timeoutMs`. */
  waitFor(condition: (logs: string) => boolean, timeoutMs?: number, what?: string): Promise<string>;
  /** Resolves with the logs once they match `pattern`; rejects after `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export interface LocalHostOptions {
  /** The function app to load (its package.json `main`, host.json, local.settings.json); this repository by default. */
  readonly projectDir?: string;
}

const PROJECT_DIR = join(__dirname, __filename.endsWith('.ts') ? '../..' : '../../..');
const CLI_PATH = join(PROJECT_DIR, 'dist', 'local', 'host', 'host-cli.js');

/**
 * Runs the local Functions host in a child process (as the real host runs the worker), for tests and
 * benchmarks. `settings` win over local.settings.json and the environment.
 */
export async function startLocalHost(
  settings: Readonly<Record<string, string>>,
  port = 0,
  options: LocalHostOptions = {},
): Promise<LocalHostProcess> {
  const { child, ready: readyPort } = await forkUntilReady<HostChildMessage, number>(
    CLI_PATH,
    {
      name: 'The local host',
      args: ['--port', String(port), '--project-dir', options.projectDir ?? PROJECT_DIR],
      env: { ...process.env, [HOST_OVERRIDES_ENV]: JSON.stringify(settings) },
    },
    (message) => (message.type === 'ready' ? message.port : new Error(message.error)),
  );
  return {
    port: readyPort,
    pid: child.pid,
    baseUrl: `http://127.0.0.1:${readyPort}`,
    logs: () => child.logs(),
    waitFor: (condition, timeoutMs = 20_000, what) => child.waitFor(condition, timeoutMs, what),
    waitForLog: (pattern, timeoutMs = 20_000) => child.waitForLog(pattern, timeoutMs),
    stop: async () => {
      if (child.running) {
        if (child.connected) child.send({ type: 'stop' } satisfies HostParentMessage);
        else child.kill('SIGTERM');
      }
      await child.exited;
    },
  };
}
