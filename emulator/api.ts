import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { EmulatorInfo, EmulatorStats } from './emulator';
import { OPTIONS_ENV, type ChildMessage, type ParentMessage, type SerializableEmulatorOptions } from './ipc';

export interface StartEmulatorOptions extends SerializableEmulatorOptions {
  /** Where the emulator's log lines go: kept in memory (`pipe`, see `logs()`), or this process's output. */
  readonly output?: 'pipe' | 'inherit';
}

/** A running emulator process, as tests, benchmarks and `npm start` use it. */
export interface RunningEmulator {
  readonly info: EmulatorInfo;
  readonly pid: number;
  /** Connection strings of the devices known at start or created through `ensureDevices`. */
  deviceConnectionString(deviceId: string): string;
  /** Creates the devices that do not exist yet; returns their connection strings. */
  ensureDevices(deviceIds: readonly string[]): Promise<Record<string, string>>;
  /** Memory and connection counts of the running emulator. */
  stats(): Promise<EmulatorStats>;
  /** Log lines printed so far (with `output: 'pipe'`). */
  logs(): string;
  /** Resolves with the logs once they match `pattern` (with `output: 'pipe'`); rejects after `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Stops the process and waits until its ports are released. */
  stop(): Promise<void>;
}

// The emulator runs in its own process: aedes is an ES module, the emulator's sockets and timers never keep a
// test runner alive, and a restart is a real restart. Under ts-jest this file runs from source, so use the build.
const CLI_PATH = __filename.endsWith('.ts')
  ? join(__dirname, '..', 'dist', 'emulator', 'cli.js')
  : join(__dirname, 'cli.js');

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const { output = 'pipe', ...emulatorOptions } = options;
  const child = fork(CLI_PATH, [], {
    env: { ...process.env, [OPTIONS_ENV]: JSON.stringify(emulatorOptions) },
    stdio: output === 'inherit' ? ['ignore', 'inherit', 'inherit', 'ipc'] : ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let logs = '';
  const logListeners = new Set<() => void>();
  const onOutput = (chunk: Buffer) => {
    logs += chunk.toString();
    for (const listener of logListeners) listener();
  };
  child.stdout?.on('data', onOutput);
  child.stderr?.on('data', onOutput);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );

  const ready = await new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve, reject) => {
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(new Error(message.error));
    };
    child.on('message', onMessage);
    child.once('exit', (code) => {
      reject(new Error(`The emulator exited with code ${code ?? '?'} before it was ready.\n${logs}`));
    });
  });
  const waitForLog = (pattern: RegExp, timeoutMs = 10_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(logs)) return;
        done();
        resolve(logs);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`No emulator log line matched ${String(pattern)} within ${timeoutMs} ms.\n${logs}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        logListeners.delete(check);
      };
      logListeners.add(check);
      check();
    });
  return new EmulatorProcess(
    child,
    ready.info,
    ready.deviceConnectionStrings,
    exited,
    () => logs,
    waitForLog,
  );
}

class EmulatorProcess implements RunningEmulator {
  private nextRequestId = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (v: Record<string, string>) => void; reject: (e: Error) => void }
  >();
  private readonly waitingStats = new Map<
    number,
    { resolve: (v: EmulatorStats) => void; reject: (e: Error) => void }
  >();

  constructor(
    private readonly child: ChildProcess,
    readonly info: EmulatorInfo,
    private readonly connectionStrings: Record<string, string>,
    private readonly exited: Promise<void>,
    readonly logs: () => string,
    readonly waitForLog: (pattern: RegExp, timeoutMs?: number) => Promise<string>,
  ) {
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'stats') {
        this.waitingStats.get(message.requestId)?.resolve(message.stats);
        this.waitingStats.delete(message.requestId);
        return;
      }
      if (message.type !== 'devices') return;
      const waiter = this.waiting.get(message.requestId);
      this.waiting.delete(message.requestId);
      if (message.error !== undefined || !message.deviceConnectionStrings)
        waiter?.reject(new Error(message.error));
      else {
        Object.assign(this.connectionStrings, message.deviceConnectionStrings);
        waiter?.resolve(message.deviceConnectionStrings);
      }
    });
    child.once('exit', (code, signal) => {
      for (const waiter of [...this.waiting.values(), ...this.waitingStats.values()]) {
        waiter.reject(new Error('The emulator exited.'));
      }
      this.waiting.clear();
      this.waitingStats.clear();
      if (!this.stopping) {
        console.error(
          `The IoT Hub emulator (pid ${child.pid ?? '?'}) exited unexpectedly (code ${code ?? '-'}, signal ${signal ?? '-'}).\n${logs().slice(-2000)}`,
        );
      }
    });
  }

  private stopping = false;

  get pid(): number {
    return this.child.pid ?? -1;
  }

  deviceConnectionString(deviceId: string): string {
    const value = this.connectionStrings[deviceId];
    if (!value) throw new Error(`Device ${deviceId} was not created through this emulator handle.`);
    return value;
  }

  ensureDevices(deviceIds: readonly string[]): Promise<Record<string, string>> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      this.send({ type: 'ensure-devices', requestId, deviceIds: [...deviceIds] });
    });
  }

  stats(): Promise<EmulatorStats> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.waitingStats.set(requestId, { resolve, reject });
      this.send({ type: 'stats', requestId });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (this.child.connected) this.send({ type: 'stop' });
      else this.child.kill('SIGTERM');
    }
    await this.exited;
  }

  private send(message: ParentMessage): void {
    // With a callback, a channel that just closed (the child stopping on its own, e.g. on Ctrl+C) is not an error event.
    this.child.send(message, (error) => {
      if (error && message.type === 'ensure-devices') this.waiting.get(message.requestId)?.reject(error);
    });
  }
}
