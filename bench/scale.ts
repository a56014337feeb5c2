import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { CPU_PROFILE_DIR_ENV } from '../devkit/child-process';
import { simulatedDeviceIds } from '../device-sim/fleet';
import { startEmulator } from 'iothub-emulator';
import { emulatorHostSettings } from '../local/emulator-settings';
import { startLocalHost, type LocalHostProcess } from '../local/host/host-process';
import { figure, knob, recordFigures } from './report';
import type { FleetReply, FleetRequest } from './scale-fleet';
import { formatMs, summarize } from './stats';

/** Issue 13, target 4. */
const MAX_EMULATOR_RSS_MIB = 1024;
const MAX_CONNECT_SECONDS = 60;
const MAX_MEDIAN_METHOD_MS = 50;
/** Telemetry interval of every device, as the issue asks. */
const INTERVAL_SECONDS = 10;
/** How long to wait for every device to connect before measuring with those that did. */
const CONNECT_GIVE_UP_MS = 180_000;
/** Devices per simulator process when BENCH_SCALE_PROCESSES is not given. */
const DEVICES_PER_PROCESS = 2500;

/**
 * Scale: N simulated devices (the simulator's SimulatedDevice on the official device SDK, over MQTT/TLS) in
 * several processes, all connected at once to one emulator, each sending telemetry every 10 s and answering
 * direct methods, with the local Functions host running the app as `npm start` does (the telemetry function
 * reads every event). Measures the time until the hub counts all N connected, the emulator's resident memory,
 * direct methods through the function to random devices while the fleet runs (sequential, one every
 * 1000/BENCH_SCALE_CALL_RATE ms), and the simulator's memory per device. Knobs: BENCH_SCALE_DEVICES (10000),
 * BENCH_SCALE_PROCESSES (one per 2,500 devices), BENCH_SCALE_SOAK_SECONDS (30), BENCH_SCALE_CALL_RATE (10/s).
 */
async function main(): Promise<void> {
  const deviceCount = Math.round(knob('BENCH_SCALE_DEVICES', 10_000));
  const processCount = Math.round(
    knob('BENCH_SCALE_PROCESSES', Math.max(1, Math.ceil(deviceCount / DEVICES_PER_PROCESS))),
  );
  const soakSeconds = knob('BENCH_SCALE_SOAK_SECONDS', 30);
  const callRate = knob('BENCH_SCALE_CALL_RATE', 10);
  const deviceIds = simulatedDeviceIds(deviceCount);

  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench-scale'),
    reset: true,
  });
  const fleets: Fleet[] = [];
  let host: LocalHostProcess | undefined;
  try {
    const createStarted = performance.now();
    const connectionStrings = await emulator.ensureDevices(deviceIds);
    const createSeconds = (performance.now() - createStarted) / 1000;
    const ca = readFileSync(emulator.info.caPath, 'utf8');
    host = await startLocalHost(emulatorHostSettings(emulator.info));
    const idleEmulator = memoryOf(emulator.pid);

    for (let p = 0; p < processCount; p++) fleets.push(await Fleet.fork());
    const bootRss = fleets.reduce((sum, fleet) => sum + fleet.bootRssBytes, 0);
    console.log(
      `${deviceCount} devices created in ${createSeconds.toFixed(1)} s; connecting them from ${processCount} simulator process(es)...`,
    );
    const connectStarted = performance.now();
    const slices = fleets.map((fleet, p) => {
      const ids = deviceIds.filter((_, i) => i % processCount === p);
      return fleet.start({
        type: 'start',
        connectionStrings: ids.map((id) => connectionStrings[id] ?? ''),
        ca,
        intervalSeconds: INTERVAL_SECONDS,
      });
    });
    // The hub's own count: a device is connected once its CONNECT was accepted. Devices that never connect
    // (refused, timed out) are reported, not waited for past CONNECT_GIVE_UP_MS.
    const connected = await waitForConnected(() => emulator.stats(), deviceCount, CONNECT_GIVE_UP_MS);
    const connectSeconds = (performance.now() - connectStarted) / 1000;
    let giveUp: NodeJS.Timeout | undefined;
    const startedFleets = await Promise.race([
      Promise.all(slices),
      new Promise<undefined>((resolve) => {
        giveUp = setTimeout(() => {
          resolve(undefined);
        }, 30_000);
      }),
    ]);
    clearTimeout(giveUp);
    const failedStarts = startedFleets?.reduce((sum, started) => sum + started.failed, 0) ?? Number.NaN;
    console.log(
      `  ${connected.count}/${deviceCount} connected after ${connectSeconds.toFixed(1)} s (${failedStarts} device start(s) failed)`,
    );

    // Methods to random devices while the fleet sends telemetry.
    const caller = new Caller(host.port);
    const times: number[] = [];
    let failed = 0;
    const soakEnd = performance.now() + soakSeconds * 1000;
    while (performance.now() < soakEnd) {
      const deviceId = deviceIds[Math.floor(Math.random() * deviceIds.length)] ?? '';
      const started = performance.now();
      const ok = await caller.call(deviceId);
      const ms = performance.now() - started;
      if (ok) times.push(ms);
      else failed++;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / callRate - ms)));
    }
    caller.close();
    const loadedEmulator = memoryOf(emulator.pid);
    const fleetMemory = await Promise.all(fleets.map((fleet) => fleet.memory()));
    const fleetRss = fleetMemory.reduce((sum, memory) => sum + memory.rssBytes, 0);
    const sent = fleetMemory.reduce((sum, memory) => sum + memory.sent, 0);
    const latency = summarize(times);
    const perDeviceKiB = (fleetRss - bootRss) / deviceCount / 1024;
    console.log(
      `  emulator resident memory: idle ${idleEmulator.rssMiB.toFixed(0)} MiB, with the fleet ${loadedEmulator.rssMiB.toFixed(0)} MiB (peak ${loadedEmulator.peakMiB.toFixed(0)} MiB)`,
    );
    console.log(
      `  methods via the function during ${soakSeconds} s: ${times.length} answered, ${failed} failed; median ${formatMs(latency.median)}, p99 ${formatMs(latency.p99)}`,
    );
    console.log(
      `  simulators: ${(fleetRss / 2 ** 20).toFixed(0)} MiB resident in all (${(bootRss / 2 ** 20).toFixed(0)} MiB before their devices), ${perDeviceKiB.toFixed(1)} KiB per device; ${sent} telemetry messages sent`,
    );

    const note = `${deviceCount} devices in ${processCount} simulator process(es), telemetry every ${INTERVAL_SECONDS} s, ${soakSeconds} s soak`;
    recordFigures([
      figure({
        target: 4,
        name: `emulator resident memory with ${deviceCount} devices`,
        unit: 'MiB',
        measured: loadedEmulator.rssMiB,
        goal: `< ${MAX_EMULATOR_RSS_MIB} MiB`,
        baseline: idleEmulator.rssMiB,
        baselineName: 'same emulator before the devices connected',
        met: loadedEmulator.rssMiB < MAX_EMULATOR_RSS_MIB,
        note: `${note}; peak ${loadedEmulator.peakMiB.toFixed(0)} MiB`,
      }),
      figure({
        target: 4,
        name: `time to connect all ${deviceCount} devices`,
        unit: 's',
        measured: connectSeconds,
        goal: `< ${MAX_CONNECT_SECONDS} s, all connected`,
        met: connectSeconds < MAX_CONNECT_SECONDS && connected.count >= deviceCount,
        note: `${connected.count} connected; ${failedStarts} device start(s) failed; creation (${createSeconds.toFixed(1)} s) not included`,
      }),
      figure({
        target: 4,
        name: 'direct method via function to a random device, median',
        unit: 'ms',
        measured: latency.median,
        goal: `< ${MAX_MEDIAN_METHOD_MS} ms, none failed`,
        met: latency.median < MAX_MEDIAN_METHOD_MS && failed === 0,
        note: `${note}; ${times.length} calls, ${failed} failed, p99 ${formatMs(latency.p99)}`,
      }),
      figure({
        target: 4,
        name: 'simulator memory per device',
        unit: 'KiB',
        measured: perDeviceKiB,
        note: `(resident of all simulator processes - their resident before devices) / devices; ${sent} telemetry messages sent`,
      }),
    ]);
  } finally {
    await Promise.all(fleets.map((fleet) => fleet.stop()));
    await host?.stop();
    await emulator.stop();
  }
}

/** A simulator process (bench/scale-fleet.ts). */
class Fleet {
  private constructor(
    private readonly child: ChildProcess,
    readonly bootRssBytes: number,
  ) {}

  static async fork(): Promise<Fleet> {
    const profileDir = process.env[CPU_PROFILE_DIR_ENV];
    const child = fork(join(__dirname, 'scale-fleet.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
    });
    const booted = await nextReply(child, 'booted');
    return new Fleet(child, booted.rssBytes);
  }

  async start(request: FleetRequest): Promise<Extract<FleetReply, { type: 'started' }>> {
    const started = nextReply(this.child, 'started');
    this.child.send(request);
    return started;
  }

  async memory(): Promise<Extract<FleetReply, { type: 'memory' }>> {
    const memory = nextReply(this.child, 'memory');
    this.child.send({ type: 'memory' } satisfies FleetRequest);
    return memory;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}

function nextReply<T extends FleetReply['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<FleetReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FleetReply) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as Extract<FleetReply, { type: T }>);
    };
    const onExit = (code: number | null) => {
      reject(new Error(`A simulator process exited with code ${code ?? '?'}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

async function waitForConnected(
  stats: () => Promise<{ connectedDevices: number }>,
  count: number,
  timeoutMs: number,
): Promise<{ count: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { connectedDevices } = await stats();
    if (connectedDevices >= count || Date.now() > deadline) return { count: connectedDevices };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** SetTelemetryInterval through the function, keeping the fleet's 10 s interval; true when the device answered it. */
class Caller {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly port: number) {}

  call(deviceId: string): Promise<boolean> {
    const body = JSON.stringify({ payload: INTERVAL_SECONDS });
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          method: 'POST',
          path: `/api/devices/${deviceId}/methods/SetTelemetryInterval`,
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            try {
              const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                status?: number;
                payload?: { interval?: number };
              };
              resolve(
                res.statusCode === 200 &&
                  answer.status === 200 &&
                  answer.payload?.interval === INTERVAL_SECONDS,
              );
            } catch {
              resolve(false);
            }
          });
        },
      );
      req.setTimeout(60_000, () => {
        resolve(false);
        req.destroy();
      });
      req.on('error', () => {
        resolve(false);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 'NaN');
  return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
