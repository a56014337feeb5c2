import { fork } from 'node:child_process';
import { join } from 'node:path';
import { HOST_OVERRIDES_ENV, type HostChildMessage, type HostParentMessage } from './host-ipc';

export interface LocalHostProcess {
  readonly port: number;
  readonly baseUrl: string;
  logs(): string;
  stop(): Promise<void>;
}

const PROJECT_DIR = join(__dirname, __filename.endsWith('.ts') ? '..' : '../..');
const CLI_PATH = join(PROJECT_DIR, 'dist', 'local', 'host-cli.js');

/**
 * Runs the local Functions host in a child process (as the real host runs the worker), for tests and
 * benchmarks. `settings` win over local.settings.json and the environment.
 */
export async function startLocalHost(
  settings: Readonly<Record<string, string>>,
  port = 0,
): Promise<LocalHostProcess> {
  const child = fork(CLI_PATH, ['--port', String(port), '--project-dir', PROJECT_DIR], {
    env: { ...process.env, [HOST_OVERRIDES_ENV]: JSON.stringify(settings) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let logs = '';
  child.stdout?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()));
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
  return {
    port: readyPort,
    baseUrl: `http://127.0.0.1:${readyPort}`,
    logs: () => logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        if (child.connected) child.send({ type: 'stop' } satisfies HostParentMessage, () => undefined);
        else child.kill('SIGTERM');
      }
      await exited;
    },
  };
}
