import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { CPU_PROFILE_DIR_ENV } from '../devkit/child-process';
import { simulatedDeviceIds } from '../device-sim/fleet';
import { startEmulator } from 'iothub-emulator';
import { startLocalHost, type LocalHostProcess } from '../local/host/host-process';
import { bareMqttThroughput } from './bare-mqtt';
import { processCpuMs } from './process-cpu';
import { figure, knob, recordFigures } from './report';
import { formatMs, summarize } from './stats';

/** Issue 13, target 1. */
const TARGET_CALLS_PER_SECOND = 5000;
/** An answer that has not come after this long is lost (the function's own timeouts are shorter). */
const LOST_AFTER_MS = 60_000;

/**
 * Direct-method throughput through the function, in the topology of `npm start` with a fleet: HTTP callers ->
 * local Functions host (its own process) -> emulator (its own process) -> `npm run device -- --devices N` (its
 * own process) -> back. Each call goes to a random device with a random interval, and the answer must carry that
 * interval: a lost, failed or crossed answer is counted. Measured over 1, 16, 64 and 256 concurrent callers, then
 * sustained at the best level; the baseline is a bare aedes request/response over TLS with 64 in flight, measured
 * in the same run. Usage: node dist/bench/function-throughput.js [devices=1000] [seconds per level=10] [sustain=30],
 * or the environment variables BENCH_DEVICES, BENCH_LEVEL_SECONDS, BENCH_SUSTAIN_SECONDS (which win).
 */
async function main(): Promise<void> {
  const deviceCount = knob('BENCH_DEVICES', 1000, process.argv[2]);
  const levelSeconds = knob('BENCH_LEVEL_SECONDS', 10, process.argv[3]);
  const sustainSeconds = knob('BENCH_SUSTAIN_SECONDS', 30, process.argv[4]);
  const deviceIds = simulatedDeviceIds(deviceCount);
  const emulator = await startEmulator({
    mqttPort: 0,
    httpsPort: 0,
    amqpPort: 0,
    iothubAmqpsPort: 0,
    dataDir: join('.iothub-emulator', 'bench-throughput'),
    reset: true,
    devices: deviceIds,
  });
  const settings = {
    IOTHUB_SERVICE_CONNECTION_STRING: emulator.info.serviceConnectionString,
    IOTHUB_EMULATOR_CA_CERT: emulator.info.caPath,
  };
  let host: LocalHostProcess | undefined;
  let simulator: ChildProcess | undefined;
  try {
    host = await startLocalHost(settings);
    simulator = startSimulator(deviceCount, emulator.info.mqttPort, settings);
    const connectStarted = performance.now();
    await waitUntil(async () => (await emulator.stats()).connectedDevices >= deviceCount, 120_000);
    console.log(
      `${deviceCount} simulated devices connected in ${((performance.now() - connectStarted) / 1000).toFixed(1)} s`,
    );
    const caller = new Caller(host.port, deviceIds);
    // Every device answers once before measuring: its method subscription is in place.
    await caller.warmUp();

    const pids = { host: host.pid, emulator: emulator.pid, simulator: simulator.pid ?? 0 };
    console.log(`Direct methods through the function, ${deviceCount} devices, ${levelSeconds} s per level:`);
    let best = { callers: 1, perSecond: 0 };
    const curve: { callers: number; result: LevelResult }[] = [];
    for (const callers of [1, 16, 64, 256]) {
      const result = await measureLevel(caller, callers, levelSeconds * 1000, pids);
      console.log(`  ${String(callers).padStart(3)} callers: ${describe(result)}`);
      curve.push({ callers, result });
      if (result.perSecond > best.perSecond) best = { callers, perSecond: result.perSecond };
    }
    const sustained = await measureLevel(caller, best.callers, sustainSeconds * 1000, pids);
    console.log(`  sustained ${sustainSeconds} s at ${best.callers} callers: ${describe(sustained)}`);
    const tlsDir = join(emulator.info.dataDir, 'certs');
    const bare = await bareMqttThroughput(
      {
        cert: readFileSync(join(tlsDir, 'server.pem'), 'utf8'),
        key: readFileSync(join(tlsDir, 'server-key.pem'), 'utf8'),
        ca: readFileSync(emulator.info.caPath, 'utf8'),
      },
      64,
      Math.min(5, levelSeconds) * 1000,
    );
    console.log(`  baseline, bare aedes request/response over TLS, 64 in flight: ${bare.toFixed(0)} calls/s`);
    caller.close();
    const bad = sustained.failed + sustained.lost + sustained.mismatched;
    const conditions = `${deviceCount} devices, random device per call`;
    recordFigures([
      figure({
        target: 1,
        name: `direct methods via function, sustained ${sustainSeconds} s at ${best.callers} callers`,
        unit: 'calls/s',
        measured: sustained.perSecond,
        goal: `>= ${TARGET_CALLS_PER_SECOND}, no bad answer`,
        baseline: bare,
        baselineName: 'bare aedes req/res TLS, 64 in flight',
        met: sustained.perSecond >= TARGET_CALLS_PER_SECOND && bad === 0,
        note: `${conditions}; ${describe(sustained)}`,
      }),
      figure({
        target: 1,
        name: 'failed + lost + crossed answers in the sustained run',
        unit: 'calls',
        measured: bad,
        goal: '= 0',
        met: bad === 0,
        note: `failed ${sustained.failed}, lost ${sustained.lost}, crossed ${sustained.mismatched} of ${sustained.calls}`,
      }),
      figure({
        target: 1,
        name: `p99 at the sustained rate (median ${formatMs(sustained.median)})`,
        unit: 'ms',
        measured: sustained.p99,
      }),
      ...curve.map(({ callers, result }) =>
        figure({
          target: 1,
          name: `curve: ${callers} caller(s), ${levelSeconds} s (median ${formatMs(result.median)}, p99 ${formatMs(result.p99)})`,
          unit: 'calls/s',
          measured: result.perSecond,
          baseline: bare,
          baselineName: 'bare',
          note: `${conditions}; ${describe(result)}`,
        }),
      ),
    ]);
  } finally {
    // The fleet first, while the hub still answers its disconnects; killed if it does not exit in time.
    if (simulator) await stopChild(simulator, 20_000);
    await host?.stop();
    await emulator.stop();
  }
}

type CallOutcome = 'ok' | 'failed' | 'lost' | 'crossed';

interface LevelResult {
  readonly calls: number;
  readonly perSecond: number;
  readonly median: number;
  readonly p99: number;
  readonly failed: number;
  /** Calls with no answer within LOST_AFTER_MS. */
  readonly lost: number;
  readonly mismatched: number;
  /** CPU time each process used per call, in ms. */
  readonly cpuPerCall: Readonly<Record<string, number>>;
}

function describe(result: LevelResult): string {
  const cpu = Object.entries(result.cpuPerCall)
    .map(([name, ms]) => `${name} ${ms.toFixed(3)}`)
    .join(', ');
  return (
    `${result.perSecond.toFixed(0)} calls/s, median ${formatMs(result.median)}, p99 ${formatMs(result.p99)}, ` +
    `failed ${result.failed}, lost ${result.lost}, crossed ${result.mismatched}; CPU ms per call: ${cpu}`
  );
}

async function measureLevel(
  caller: Caller,
  callers: number,
  durationMs: number,
  pids: Readonly<Record<string, number>>,
): Promise<LevelResult> {
  const cpuBefore = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuMs(pid)]));
  const times: number[] = [];
  let failed = 0;
  let lost = 0;
  let mismatched = 0;
  const deadline = performance.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < deadline) {
        const callStarted = performance.now();
        const outcome = await caller.call();
        times.push(performance.now() - callStarted);
        if (outcome === 'failed') failed++;
        if (outcome === 'lost') lost++;
        if (outcome === 'crossed') mismatched++;
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const { median, p99 } = summarize(times);
  const cpuPerCall = Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => [
      name,
      (processCpuMs(pid) - (cpuBefore[name] ?? 0)) / Math.max(1, times.length),
    ]),
  );
  return {
    calls: times.length,
    perSecond: times.length / elapsedS,
    median,
    p99,
    failed,
    lost,
    mismatched,
    cpuPerCall,
  };
}

/** HTTP calls to the function over kept-alive connections. */
class Caller {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 512 });

  constructor(
    private readonly port: number,
    private readonly deviceIds: readonly string[],
  ) {}

  async warmUp(): Promise<void> {
    for (let i = 0; i < this.deviceIds.length; i += 64) {
      const batch = this.deviceIds.slice(i, i + 64);
      const outcomes = await Promise.all(batch.map((deviceId) => this.call(deviceId, 30)));
      const bad = outcomes.filter((outcome) => outcome !== 'ok').length;
      if (bad > 0) throw new Error(`${bad} devices did not answer the warm-up call`);
    }
  }

  /**
   * One call to a random device with a random interval; 'crossed' when the answer is not this call's, 'lost' when
   * none came.
   */
  call(
    deviceId = this.deviceIds[Math.floor(Math.random() * this.deviceIds.length)] ?? '',
    connectTimeoutInSeconds = 0,
  ): Promise<CallOutcome> {
    const interval = 600 + Math.floor(Math.random() * 3000);
    const body = JSON.stringify({ payload: interval, connectTimeoutInSeconds });
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
            if (res.statusCode !== 200) {
              resolve('failed');
              return;
            }
            try {
              const answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
                status?: number;
                payload?: { interval?: number };
              };
              resolve(answer.status === 200 && answer.payload?.interval === interval ? 'ok' : 'crossed');
            } catch {
              resolve('crossed');
            }
          });
        },
      );
      req.setTimeout(LOST_AFTER_MS, () => {
        resolve('lost');
        req.destroy();
      });
      req.on('error', () => {
        resolve('failed');
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function startSimulator(
  devices: number,
  mqttPort: number,
  settings: Readonly<Record<string, string>>,
): ChildProcess {
  return fork(
    join(__dirname, '..', 'device-sim', 'cli.js'),
    ['--devices', String(devices), '--gateway', `localhost:${mqttPort}`, '--interval', '3600', '--quiet'],
    {
      env: { ...process.env, ...settings },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: process.env[CPU_PROFILE_DIR_ENV]
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env[CPU_PROFILE_DIR_ENV]}`]
        : [],
    },
  );
}

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`; resolves once it has exited. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve();
    }),
  );
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

void (async () => {
  try {
    await main();
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  }
})();
