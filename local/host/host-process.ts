import { fork } from 'node:child_process';
import { join } from 'node:path';
import { HOST_OVERRIDES_ENV, type HostChildMessage, type HostParentMessage } from './host-ipc';

export interface LocalHostProcess {
  readonly port: number;
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
  const child = fork(CLI_PATH, ['--port', String(port), '--project-dir', options.projectDir ?? PROJECT_DIR], {
    env: { ...process.env, [HOST_OVERRIDES_ENV]: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let logs = '';
  const listeners = new Set<() => void>();
  const onOutput = (chunk: Buffer) => {
    logs += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  const readyPort = await new Promise<number>((resolve, reject) => {
    child.on('message', (message: HostChildMessage) => {
      if (message.type === 'ready') resolve(message.port);
      else reject(new Error(message.error));
    });
    child.once('exit', (code) => {
      reject(new Error(`The local host exited with code ${code ?? '?'}.\n${logs}`));
    });
  });
  const waitFor = (condition: (logs: string) => boolean, timeoutMs = 20_000, what = 'the condition') =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (!condition(logs)) return;
        done();
        resolve(logs);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`The local host's logs did not show ${what} within ${timeoutMs} ms.\n${logs}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  return {
    port: readyPort,
    baseUrl: `http://127.0.0.1:${readyPort}`,
    logs: () => logs,
    waitFor,
    waitForLog: (pattern, timeoutMs) => waitFor((text) => pattern.test(text), timeoutMs, String(pattern)),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        if (child.connected) child.send({ type: 'stop' } satisfies HostParentMessage, () => undefined);
        else child.kill('SIGTERM');
      }
      await exited;
    },
  };
}
