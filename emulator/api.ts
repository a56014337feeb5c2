import { join } from 'node:path';
import { forkUntilReady, type ChildHandle } from '../devkit/child-process';
import {
  issueDeviceCertificate,
  readEmulatorCa,
  type DeviceCertificate,
  type DeviceCertificateRequest,
} from './certificates';
import type { DeviceTransport, EmulatorInfo, EmulatorStats } from './emulator';
import { OPTIONS_ENV, type ChildMessage, type ParentMessage, type SerializableEmulatorOptions } from './ipc';
import { sdkDeviceConnectionStrings, type SdkConnectionString } from './config/sdk-connection-strings';

export interface StartEmulatorOptions extends SerializableEmulatorOptions {
  /** Where the emulator's log lines go: kept in memory (`pipe`, see `logs()`), or this process's output. */
  readonly output?: 'pipe' | 'inherit';
  /**
   * Serve the dashboard (its URL is `info.dashboardUrl`). Off unless asked, unlike the command line: tests and
   * benchmarks start many emulators at once, and the dashboard's fixed default port would be fought over (give
   * `dashboardPort: 0` with it in tests).
   */
  readonly dashboard?: boolean;
}

/** A running emulator process, as tests, benchmarks and `npm start` use it. */
export interface RunningEmulator {
  readonly info: EmulatorInfo;
  readonly pid: number;
  /**
   * Connection strings of the devices known at start or created through `ensureDevices`, with the gateway port of
   * the transport the device will use (MQTT by default, or IoT Hub's AMQP endpoint).
   */
  deviceConnectionString(deviceId: string, transport?: DeviceTransport): string;
  /**
   * The device's connection strings that unmodified SDKs of any language take as they are, and which ones:
   * `HostName=localhost` with `standardPorts` (see docs/any-language.md and `info.sdkServiceConnectionStrings`).
   */
  sdkDeviceConnectionStrings(deviceId: string): SdkConnectionString[];
  /** Creates the devices that do not exist yet; returns their connection strings. */
  ensureDevices(deviceIds: readonly string[]): Promise<Record<string, string>>;
  /**
   * Creates the modules that do not exist yet (and their devices); returns their connection strings (MQTT: the
   * emulator serves modules over MQTT), keyed `<deviceId>/<moduleId>`, also kept for `moduleConnectionString`.
   */
  ensureModules(
    modules: readonly { readonly deviceId: string; readonly moduleId: string }[],
  ): Promise<Record<string, string>>;
  /** The connection string of a module created through `ensureModules`. */
  moduleConnectionString(deviceId: string, moduleId: string): string;
  /**
   * Back to a fresh registry, for a test that wants one: every device goes (modules, twins, queued messages and
   * connections with it), then the devices given at start are created again with new keys (read their
   * connection strings again). Telemetry already sent stays: read the Event Hub-compatible endpoint from `latest`.
   */
  reset(): Promise<void>;
  /**
   * Issues an X.509 device certificate for local use: `self-signed` (register its thumbprint on a `selfSigned`
   * device) or `ca-signed` by the emulator's CA, which the hub trusts (a `certificateAuthority` device whose id is
   * the certificate's CN). Made in this process from the CA in the emulator's data directory.
   */
  issueDeviceCertificate(request: DeviceCertificateRequest): Promise<DeviceCertificate>;
  /** Memory and connection counts of the running emulator. */
  stats(): Promise<EmulatorStats>;
  /** Log lines printed so far (with `output: 'pipe'`). */
  logs(): string;
  /** Resolves with the logs once they match `pattern` (with `output: 'pipe'`); rejects after `timeoutMs`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Stops the process and waits until its ports are released. */
  stop(): Promise<void>;
  /** Kills the process at once (SIGKILL: no flush, no cleanup), as a crash or a power cut would; waits for it. */
  kill(): Promise<void>;
}

// The emulator runs in its own process: aedes is an ES module, the emulator's sockets and timers never keep a
// test runner alive, and a restart is a real restart. Under ts-jest this file runs from source (the emulator's own
// tests), so use the package's build.
const CLI_PATH = __filename.endsWith('.ts')
  ? join(__dirname, 'dist', 'emulator', 'cli.js')
  : join(__dirname, 'cli.js');

type Ready = Extract<ChildMessage, { type: 'ready' }>;

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<RunningEmulator> {
  const { output = 'pipe', dashboard = false, ...rest } = options;
  const emulatorOptions: SerializableEmulatorOptions = { ...rest, dashboard };
  const { child, ready } = await forkUntilReady<ChildMessage, Ready>(
    CLI_PATH,
    { name: 'The emulator', output, env: { ...process.env, [OPTIONS_ENV]: JSON.stringify(emulatorOptions) } },
    (message) =>
      message.type === 'ready' ? message : message.type === 'failed' ? new Error(message.error) : undefined,
  );
  return new EmulatorProcess(child, ready.info, ready.deviceConnectionStrings);
}

/** Requests to the child, answered by request id. */
class PendingRequests<T> {
  private readonly waiting = new Map<
    number,
    { resolve: (value: T) => void; reject: (error: Error) => void }
  >();

  add(requestId: number, resolve: (value: T) => void, reject: (error: Error) => void): void {
    this.waiting.set(requestId, { resolve, reject });
  }

  settle(requestId: number, outcome: { value: T } | { error: Error }): void {
    const waiter = this.waiting.get(requestId);
    this.waiting.delete(requestId);
    if ('value' in outcome) waiter?.resolve(outcome.value);
    else waiter?.reject(outcome.error);
  }

  rejectAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

class EmulatorProcess implements RunningEmulator {
  private nextRequestId = 1;
  private stopping = false;
  private readonly devices = new PendingRequests<Record<string, string>>();
  private readonly statsRequests = new PendingRequests<EmulatorStats>();
  private readonly resets = new PendingRequests<Record<string, string>>();

  constructor(
    private readonly child: ChildHandle<ChildMessage>,
    readonly info: EmulatorInfo,
    private connectionStrings: Record<string, string>,
  ) {
    child.onMessage((message) => {
      if (message.type === 'stats') {
        this.statsRequests.settle(message.requestId, { value: message.stats });
      } else if (message.type === 'reset') {
        const strings = message.deviceConnectionStrings;
        if (message.error !== undefined || !strings) {
          this.resets.settle(message.requestId, { error: new Error(message.error) });
        } else {
          this.resets.settle(message.requestId, { value: strings });
        }
      } else if (message.type === 'devices') {
        if (message.error !== undefined || !message.deviceConnectionStrings) {
          this.devices.settle(message.requestId, { error: new Error(message.error) });
        } else {
          Object.assign(this.connectionStrings, message.deviceConnectionStrings);
          this.devices.settle(message.requestId, { value: message.deviceConnectionStrings });
        }
      }
    });
    void child.exited.then(({ code, signal }) => {
      const exited = new Error('The emulator exited.');
      this.devices.rejectAll(exited);
      this.statsRequests.rejectAll(exited);
      this.resets.rejectAll(exited);
      if (!this.stopping) {
        console.error(
          `The IoT Hub emulator (pid ${child.pid}) exited unexpectedly (code ${code ?? '-'}, signal ${signal ?? '-'}).\n${child.logs().slice(-2000)}`,
        );
      }
    });
  }

  get pid(): number {
    return this.child.pid;
  }

  logs(): string {
    return this.child.logs();
  }

  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string> {
    return this.child.waitForLog(pattern, timeoutMs);
  }

  deviceConnectionString(deviceId: string, transport: DeviceTransport = 'mqtt'): string {
    const value = this.connectionStrings[deviceId];
    if (!value) throw new Error(`Device ${deviceId} was not created through this emulator handle.`);
    if (transport === 'mqtt') return value;
    return value.replace(/GatewayHostName=([^;:]+):\d+/, `GatewayHostName=$1:${this.info.iothubAmqpsPort}`);
  }

  sdkDeviceConnectionStrings(deviceId: string): SdkConnectionString[] {
    const key = /(?:^|;)SharedAccessKey=([^;]+)/.exec(this.deviceConnectionString(deviceId))?.[1];
    if (key === undefined) throw new Error(`Device ${deviceId} has no symmetric key.`);
    const { info } = this;
    const endpoints = { ...info, hubHostName: info.hostName };
    return sdkDeviceConnectionStrings(endpoints, deviceId, key);
  }

  ensureDevices(deviceIds: readonly string[]): Promise<Record<string, string>> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.devices.add(requestId, resolve, reject);
      this.send({ type: 'ensure-devices', requestId, deviceIds: [...deviceIds] }, (error) => {
        this.devices.settle(requestId, { error });
      });
    });
  }

  ensureModules(
    modules: readonly { readonly deviceId: string; readonly moduleId: string }[],
  ): Promise<Record<string, string>> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.devices.add(requestId, resolve, reject);
      const wanted = modules.map(({ deviceId, moduleId }) => ({ deviceId, moduleId }));
      this.send({ type: 'ensure-modules', requestId, modules: wanted }, (error) => {
        this.devices.settle(requestId, { error });
      });
    });
  }

  moduleConnectionString(deviceId: string, moduleId: string): string {
    const value = this.connectionStrings[`${deviceId}/${moduleId}`];
    if (!value)
      throw new Error(`Module ${deviceId}/${moduleId} was not created through this emulator handle.`);
    return value;
  }

  async reset(): Promise<void> {
    const requestId = this.nextRequestId++;
    const strings = await new Promise<Record<string, string>>((resolve, reject) => {
      this.resets.add(requestId, resolve, reject);
      this.send({ type: 'reset', requestId }, (error) => {
        this.resets.settle(requestId, { error });
      });
    });
    // The devices made again have new keys: the old strings go, the new ones replace them.
    this.connectionStrings = { ...strings };
  }

  async issueDeviceCertificate(request: DeviceCertificateRequest): Promise<DeviceCertificate> {
    return issueDeviceCertificate(request, await readEmulatorCa(this.info.dataDir));
  }

  stats(): Promise<EmulatorStats> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.statsRequests.add(requestId, resolve, reject);
      this.send({ type: 'stats', requestId }, (error) => {
        this.statsRequests.settle(requestId, { error });
      });
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.running) {
      if (this.child.connected) this.send({ type: 'stop' });
      else this.child.kill('SIGTERM');
    }
    await this.child.exited;
  }

  async kill(): Promise<void> {
    this.stopping = true;
    if (this.child.running) this.child.kill('SIGKILL');
    await this.child.exited;
  }

  private send(message: ParentMessage, onError?: (error: Error) => void): void {
    this.child.send(message, onError);
  }
}
