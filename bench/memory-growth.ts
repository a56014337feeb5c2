import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { EmulatorInfo } from 'iothub-emulator';
import type { ProbeReply, ProbeRequest } from './emulator-probe';
import { groupHeapSnapshot, heapGrowth } from './heap-snapshot';
import { figure, knob, recordFigures } from './report';

const MiB = 2 ** 20;
const DATA_DIR = join('.iothub-emulator', 'bench-growth');

/**
 * Where the emulator's memory goes while N devices send telemetry every second (a diagnostic, run on demand:
 * BENCH_ONLY=memory-growth). The emulator runs in bench/emulator-probe.ts (Emulator.start, as its command line
 * does) so that its `process.memoryUsage()` can be read; the devices are `npm run device -- --devices N` in a
 * process of their own. Every BENCH_GROWTH_SAMPLE_SECONDS it prints resident memory split as the kernel sees it
 * (anonymous vs file-backed, /proc/<pid>/status) and as Node sees it (V8 heap, external, array buffers), and the
 * size of the event log on disk; it writes a heap snapshot after the devices connected and one at the end, and
 * prints the kinds of objects that grew most between them. Knobs: BENCH_GROWTH_DEVICES (1000),
 * BENCH_GROWTH_SECONDS (180), BENCH_GROWTH_SAMPLE_SECONDS (15), BENCH_GROWTH_DASHBOARD=1 (serve the dashboard,
 * as `npm start` does), BENCH_GROWTH_SNAPSHOTS=0 (no heap snapshots: they pause the emulator for a while, and
 * the memory they take stays in its resident size), BENCH_GROWTH_GC=1 (a full garbage collection before each
 * sample, so that the heap figures are live objects only).
 */
async function main(): Promise<void> {
  const deviceCount = Math.round(knob('BENCH_GROWTH_DEVICES', 1000));
  const seconds = knob('BENCH_GROWTH_SECONDS', 180);
  const sampleSeconds = knob('BENCH_GROWTH_SAMPLE_SECONDS', 15);
  const dashboard = process.env.BENCH_GROWTH_DASHBOARD === '1';
  const snapshots = process.env.BENCH_GROWTH_SNAPSHOTS !== '0';
  const gc = process.env.BENCH_GROWTH_GC === '1';
  const snapshotDir = join(DATA_DIR, '..', 'bench-growth-snapshots');
  rmSync(snapshotDir, { recursive: true, force: true });
  mkdirSync(snapshotDir, { recursive: true });

  const probe = fork(join(__dirname, 'emulator-probe.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: gc ? ['--expose-gc'] : [],
  });
  let simulator: Simulator | undefined;
  try {
    const ready = reply(probe, 'ready');
    probe.send({
      type: 'start',
      options: {
        mqttPort: 0,
        httpsPort: 0,
        amqpPort: 0,
        iothubAmqpsPort: 0,
        dataDir: DATA_DIR,
        reset: true,
        dashboard,
        dashboardPort: 0,
      },
    } satisfies ProbeRequest);
    const { info } = await ready;
    const pid = probe.pid ?? 0;
    const samples: Sample[] = [];
    const sample = async (label: string) => {
      const memory = reply(probe, 'memory');
      probe.send({ type: 'memory', gc } satisfies ProbeRequest);
      const row = {
        label,
        ...kernelMemory(pid),
        ...(await memory).usage,
        eventLogBytes: dirSize(info.dataDir),
        eventsSent: simulator?.sent() ?? 0,
      };
      samples.push(row);
      console.log(formatSample(row));
    };
    console.log(
      `Emulator memory, ${deviceCount} devices sending telemetry every 1 s for ${seconds} s${dashboard ? ', dashboard on' : ''}${gc ? ', collected before each sample' : ''} (MiB):`,
    );
    console.log(
      `  ${'when'.padEnd(14)} rss   anon  file  | heapTotal heapUsed external arrayBuffers | event log | events sent`,
    );
    await sample('idle');

    simulator = await startSimulator(deviceCount, info);
    await sample('connected');
    const snapshot = async (name: string) => {
      const written = reply(probe, 'snapshot');
      probe.send({
        type: 'snapshot',
        path: join(snapshotDir, `${name}.heapsnapshot`),
      } satisfies ProbeRequest);
      return (await written).path;
    };
    // The first snapshot after the connection burst, so that the diff is the steady state's growth only.
    await sleep(Math.min(10, seconds / 4) * 1000);
    const first = snapshots ? await snapshot('start') : undefined;
    const started = performance.now();
    await sample(snapshots ? 'after snapshot' : 'start');
    while ((performance.now() - started) / 1000 < seconds) {
      await sleep(Math.min(sampleSeconds * 1000, Math.max(0, started + seconds * 1000 - performance.now())));
      await sample(`+${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    const last = snapshots ? await snapshot('end') : undefined;
    await sample(snapshots ? 'after snapshot' : 'end');
    const begin = samples[2];
    const end = samples[samples.length - 2];
    if (begin && end) {
      const minutes = seconds / 60;
      const perMinute = (a: number, b: number) => (b - a) / MiB / minutes;
      console.log(
        `  growth per minute: rss ${perMinute(begin.rss, end.rss).toFixed(1)} MiB (anon ${perMinute(begin.anon, end.anon).toFixed(1)}, file ${perMinute(begin.file, end.file).toFixed(1)}); ` +
          `V8 heap used ${perMinute(begin.heapUsed, end.heapUsed).toFixed(1)}, external ${perMinute(begin.external, end.external).toFixed(1)}, array buffers ${perMinute(begin.arrayBuffers, end.arrayBuffers).toFixed(1)}; event log ${perMinute(begin.eventLogBytes, end.eventLogBytes).toFixed(1)}`,
      );
      const events = end.eventsSent - begin.eventsSent;
      if (events > 0) {
        console.log(
          `  per event sent between those samples (${events}): V8 heap used ${((end.heapUsed - begin.heapUsed) / events).toFixed(0)} bytes, resident ${((end.rss - begin.rss) / events).toFixed(0)} bytes`,
        );
      }
      recordFigures([
        figure({
          target: 0,
          name: `emulator resident memory growth, ${deviceCount} devices at 1 event/s`,
          unit: 'MiB/min',
          measured: perMinute(begin.rss, end.rss),
          note: `V8 heap used ${perMinute(begin.heapUsed, end.heapUsed).toFixed(1)} MiB/min, external ${perMinute(begin.external, end.external).toFixed(1)} MiB/min over ${seconds} s`,
        }),
      ]);
    }
    if (first && last) {
      console.log(
        `  heap snapshots: ${first}, ${last}; kinds that grew most between them (live objects only):`,
      );
      for (const group of heapGrowth(groupHeapSnapshot(first), groupHeapSnapshot(last), 15)) {
        console.log(
          `    ${(group.bytes / MiB).toFixed(2).padStart(8)} MiB  ${String(group.count).padStart(8)} objects  ${group.name}`,
        );
      }
    }
  } finally {
    const devices = simulator?.process;
    if (devices && devices.exitCode === null) {
      const exited = new Promise((resolve) => devices.once('exit', resolve));
      devices.kill('SIGINT');
      await exited;
    }
    const exited = new Promise((resolve) => probe.once('exit', resolve));
    if (probe.connected) probe.disconnect();
    await exited;
  }
}

interface Sample extends NodeJS.MemoryUsage {
  readonly label: string;
  readonly anon: number;
  readonly file: number;
  readonly eventLogBytes: number;
  /** Telemetry messages the simulator counted as acknowledged, as of its last progress line (every 10 s). */
  readonly eventsSent: number;
}

interface Simulator {
  readonly process: ChildProcess;
  sent(): number;
}

function formatSample(s: Sample): string {
  const m = (bytes: number, width: number) => (bytes / MiB).toFixed(0).padStart(width);
  return `  ${s.label.padEnd(14)} ${m(s.rss, 4)}  ${m(s.anon, 4)}  ${m(s.file, 4)}  | ${m(s.heapTotal, 9)} ${m(s.heapUsed, 8)} ${m(s.external, 8)} ${m(s.arrayBuffers, 12)} | ${m(s.eventLogBytes, 9)} | ${String(s.eventsSent).padStart(11)}`;
}

/** Resident memory as the kernel splits it: anonymous (heap, malloc) and file-backed (code, mapped files). */
function kernelMemory(pid: number): { anon: number; file: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 'NaN') * 1024;
  return { anon: kb('RssAnon'), file: kb('RssFile') };
}

function dirSize(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    total += entry.isDirectory() ? dirSize(full) : statSync(full).size;
  }
  return total;
}

async function startSimulator(count: number, info: EmulatorInfo): Promise<Simulator> {
  const simulator = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'device-sim', 'cli.js'),
      '--devices',
      String(count),
      '--gateway',
      `localhost:${info.mqttPort}`,
      '--ca',
      info.caPath,
      '--interval',
      '1',
      '--quiet',
    ],
    {
      env: {
        ...process.env,
        IOTHUB_SERVICE_CONNECTION_STRING: info.serviceConnectionString,
        IOTHUB_EMULATOR_CA_CERT: info.caPath,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('simulated device(s) running')) {
        simulator.stdout.off('data', onData);
        resolve();
      }
    };
    simulator.stdout.on('data', onData);
    simulator.once('exit', (code) => {
      reject(new Error(`device simulator exited with ${code ?? '?'}:\n${output}`));
    });
  });
  // "<n> devices, <m> telemetry messages sent so far", every 10 s (device-sim/cli.ts).
  let sent = 0;
  simulator.stdout.on('data', (chunk: Buffer) => {
    const counts = [...chunk.toString().matchAll(/(\d+) telemetry messages sent so far/g)];
    const last = counts[counts.length - 1]?.[1];
    if (last !== undefined) sent = Number(last);
  });
  return { process: simulator, sent: () => sent };
}

function reply<T extends ProbeReply['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<ProbeReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ProbeReply) => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(message as Extract<ProbeReply, { type: T }>);
    };
    const onExit = (code: number | null) => {
      reject(new Error(`The emulator probe exited with code ${code ?? '?'}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
