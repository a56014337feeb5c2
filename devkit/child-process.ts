import { fork, type ChildProcess } from 'node:child_process';

/** A Node program running in a child process, with its output kept and an IPC channel. */
export interface ChildHandle<Message> {
  readonly pid: number;
  /** Everything the child printed so far (with output 'pipe'). */
  logs(): string;
  /** Resolves with the logs once `condition(logs)` holds, checked on every output; rejects after `timeoutMs`. */
  waitFor(condition: (logs: string) => boolean, timeoutMs?: number, what?: string): Promise<string>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  send(message: unknown, onError?: (error: Error) => void): void;
  onMessage(listener: (message: Message) => void): void;
  /** Whether the child is still there. */
  readonly running: boolean;
  readonly connected: boolean;
  /** Resolves when the process exits, with its code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export interface ForkOptions {
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Keep the output in memory (`logs()`, default) or pass it through to this process's. */
  readonly output?: 'pipe' | 'inherit';
  readonly name: string;
}

/**
 * Forks `modulePath` and waits for its first IPC message that `readyOf` recognises: it returns the ready value,
 * or an Error for a child that reports it failed. A child that exits first rejects with its code and output. The
 * one harness behind every child the project runs (the emulator, the local Functions host).
 */
/** Where forked children write CPU profiles (`--cpu-prof`), when set: for profiling benchmarks. */
export const CPU_PROFILE_DIR_ENV = 'IOTHUB_DEV_CPU_PROFILE_DIR';

export async function forkUntilReady<Message, Ready>(
  modulePath: string,
  options: ForkOptions,
  readyOf: (message: Message) => Ready | Error | undefined,
): Promise<{ child: ChildHandle<Message>; ready: Ready }> {
  const profileDir = options.env?.[CPU_PROFILE_DIR_ENV];
  const process: ChildProcess = fork(modulePath, [...(options.args ?? [])], {
    env: options.env,
    // Node refuses --cpu-prof in NODE_OPTIONS: this variable profiles every child the tools fork (see docs/performance.md).
    execArgv: profileDir
      ? [...globalThis.process.execArgv, '--cpu-prof', `--cpu-prof-dir=${profileDir}`]
      : undefined,
    stdio:
      options.output === 'inherit'
        ? ['ignore', 'inherit', 'inherit', 'ipc']
        : ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let logs = '';
  const listeners = new Set<() => void>();
  const onOutput = (chunk: Buffer) => {
    logs += chunk.toString();
    for (const listener of listeners) listener();
  };
  process.stdout?.on('data', onOutput);
  process.stderr?.on('data', onOutput);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    process.once('exit', (code, signal) => {
      resolve({ code, signal });
    }),
  );
  const ready = await new Promise<Ready>((resolve, reject) => {
    const onMessage = (message: Message) => {
      const verdict = readyOf(message);
      if (verdict === undefined) return;
      process.off('message', onMessage);
      if (verdict instanceof Error) reject(verdict);
      else resolve(verdict);
    };
    process.on('message', onMessage);
    process.once('exit', (code) => {
      reject(new Error(`${options.name} exited with code ${code ?? '?'} before it was ready.\n${logs}`));
    });
  });
  const waitFor = (condition: (text: string) => boolean, timeoutMs = 10_000, what = 'the condition') =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (!condition(logs)) return;
        done();
        resolve(logs);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`The logs of ${options.name} did not show ${what} within ${timeoutMs} ms.\n${logs}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  const child: ChildHandle<Message> = {
    pid: process.pid ?? -1,
    logs: () => logs,
    waitFor,
    waitForLog: (pattern, timeoutMs) => waitFor((text) => pattern.test(text), timeoutMs, String(pattern)),
    send: (message, onError) => {
      // With a callback, a channel that just closed (the child stopping on its own) is not an error event.
      process.send(message as never, (error) => {
        if (error) onError?.(error);
      });
    },
    onMessage: (listener) => process.on('message', listener),
    get running() {
      return process.exitCode === null && process.signalCode === null;
    },
    get connected() {
      return process.connected;
    },
    exited,
    kill: (signal = 'SIGTERM') => process.kill(signal),
  };
  return { child, ready };
}
