import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { figure, knob, recordFigures } from './report';
import { summarize } from './stats';

/** Issue 13, target 5. */
const MAX_STARTUP_MS = 2000;
/** What `npm start` prints once the emulator, the functions host and the device are up (local/stack.ts). */
const STACK_READY = 'Local stack is running';
/** What the emulator's command line prints once it serves (emulator/cli.ts). */
const EMULATOR_READY = /IoT Hub emulator ".*" is running/;

const PROJECT_DIR = join(__dirname, '..', '..');

/**
 * `npm start` from a built tree to "ready": the time from spawning `node dist/local/stack.js` (what `npm start`
 * runs after its build) until it prints its banner, over BENCH_STARTUP_RUNS starts (5) after one uncounted first
 * start (which makes the emulator's certificates and device). The baseline is the emulator's own command line to
 * its banner, timed the same way in the same run. Both run from a copy of the built tree in a temporary folder
 * (dist, package.json, host.json, node_modules linked), with every port 0, so that the bench neither writes this
 * tree's local.settings.json nor fights a running `npm start` for its ports.
 */
async function main(): Promise<void> {
  const runs = Math.round(knob('BENCH_STARTUP_RUNS', 5));
  const tree = copyBuiltTree();
  try {
    const stackArgs = [
      join(tree, 'dist', 'local', 'stack.js'),
      '--port=0',
      '--mqtt-port=0',
      '--https-port=0',
      '--amqp-port=0',
      '--iothub-amqps-port=0',
      '--dashboard-port=0',
    ];
    const emulatorArgs = [
      // The emulator package's bin, as the workspace built it.
      join(dirname(require.resolve('iothub-emulator/package.json')), 'dist', 'emulator', 'cli.js'),
      '--mqtt-port=0',
      '--https-port=0',
      '--amqp-port=0',
      '--iothub-amqps-port=0',
      '--dashboard-port=0',
      '--device=sim-device-01',
      `--data-dir=${join(tree, 'emulator-alone')}`,
    ];
    const stackFirst = await timeToReady(stackArgs, tree, (out) => out.includes(STACK_READY));
    const emulatorFirst = await timeToReady(emulatorArgs, tree, (out) => EMULATOR_READY.test(out));
    const stack: number[] = [];
    const emulator: number[] = [];
    // Alternated, so that a change in the machine's load touches both alike.
    for (let i = 0; i < runs; i++) {
      stack.push(await timeToReady(stackArgs, tree, (out) => out.includes(STACK_READY)));
      emulator.push(await timeToReady(emulatorArgs, tree, (out) => EMULATOR_READY.test(out)));
    }
    const stackMedian = summarize(stack).median;
    const emulatorMedian = summarize(emulator).median;
    const list = (times: readonly number[]) => times.map((ms) => ms.toFixed(0)).join(', ');
    console.log(
      `npm start (node dist/local/stack.js) to "${STACK_READY}", ${runs} starts after a first one:`,
    );
    console.log(
      `  stack:    median ${stackMedian.toFixed(0)} ms (${list(stack)}; first start ${stackFirst.toFixed(0)} ms)`,
    );
    console.log(
      `  emulator: median ${emulatorMedian.toFixed(0)} ms (${list(emulator)}; first start ${emulatorFirst.toFixed(0)} ms)`,
    );
    recordFigures([
      figure({
        target: 5,
        name: 'npm start from a built tree to "ready", median',
        unit: 'ms',
        measured: stackMedian,
        goal: `< ${MAX_STARTUP_MS} ms`,
        baseline: emulatorMedian,
        baselineName: 'the emulator alone to its banner',
        met: stackMedian < MAX_STARTUP_MS,
        note: `${runs} starts (${list(stack)} ms); first start, which makes certificates, ${stackFirst.toFixed(0)} ms`,
      }),
    ]);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

/** dist, package.json, host.json and the settings example in a temporary folder, with node_modules linked. */
function copyBuiltTree(): string {
  const tree = mkdtempSync(join(tmpdir(), 'iothub-startup-'));
  for (const entry of ['dist', 'package.json', 'host.json', 'local.settings.json.example']) {
    const from = join(PROJECT_DIR, entry);
    if (existsSync(from)) cpSync(from, join(tree, entry), { recursive: true });
  }
  symlinkSync(join(PROJECT_DIR, 'node_modules'), join(tree, 'node_modules'), 'dir');
  return tree;
}

/** Spawns node with `args` in `cwd`, resolves with the ms until its output satisfies `ready`, then stops it. */
async function timeToReady(
  args: readonly string[],
  cwd: string,
  ready: (output: string) => boolean,
): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let output = '';
  try {
    return await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (ready(output)) resolve(performance.now() - started);
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      void exited.then((code) => {
        reject(
          new Error(`${args[0] ?? 'node'} exited with code ${code ?? '?'} before it was ready:\n${output}`),
        );
      });
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
