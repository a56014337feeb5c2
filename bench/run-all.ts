import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIGURES_FILE_ENV, formatTable, type BenchFigure } from './report';

/**
 * `npm run bench`: runs each bench in a process of its own, one after the other (so that none measures another's
 * leftovers), then prints the figures (issue 13) in one table with their targets and the baselines
 * measured in the same run, and writes them as JSON to BENCH_REPORT when set. BENCH_ONLY=name,name runs only
 * those benches (names below). Knobs of each bench: docs/performance.md.
 */
const BENCHES = [
  // The five targets, in its order.
  'function-throughput',
  'direct-methods',
  'telemetry-throughput',
  'scale',
  'startup',
  // Figures without a target in the issue, kept in the run.
  'cloud-to-device',
  'twin-push',
  'memory',
] as const;

/** Benches that run only when BENCH_ONLY names them (long, or diagnostics rather than figures). */
const ON_DEMAND = ['memory-growth', 'query', 'fan-out', 'dashboard'] as const;

interface BenchRun {
  readonly name: string;
  readonly exitCode: number | null;
  readonly seconds: number;
}

async function main(): Promise<void> {
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const known: readonly string[] = [...BENCHES, ...ON_DEMAND];
  const unknown = only.filter((name) => !known.includes(name));
  if (unknown.length > 0)
    throw new Error(`Unknown bench(es) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const selected = only.length > 0 ? only : BENCHES;

  const dir = mkdtempSync(join(tmpdir(), 'iothub-bench-'));
  const figuresFile = join(dir, 'figures.jsonl');
  writeFileSync(figuresFile, '');
  const runs: BenchRun[] = [];
  try {
    for (const name of selected) {
      console.log(`\n=== ${name} ===`);
      const started = performance.now();
      const exitCode = await runBench(name, figuresFile);
      runs.push({ name, exitCode, seconds: (performance.now() - started) / 1000 });
      if (exitCode !== 0) console.error(`bench ${name} failed (exit code ${exitCode ?? 'signal'})`);
    }
    const figures = readFileSync(figuresFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as BenchFigure);
    const ordered = [...figures].sort((a, b) => (a.target || 99) - (b.target || 99));
    console.log('\n=== Summary (issue 13: targets against baselines measured in this run) ===');
    console.log(formatTable(ordered));
    const failed = runs.filter((run) => run.exitCode !== 0);
    if (failed.length > 0) console.log(`  benches that failed: ${failed.map((run) => run.name).join(', ')}`);
    const report = process.env.BENCH_REPORT;
    if (report) {
      writeFileSync(
        report,
        `${JSON.stringify({ date: new Date().toISOString(), runs, figures: ordered }, null, 2)}\n`,
      );
      console.log(`  written to ${report}`);
    }
    if (failed.length > 0) process.exitCode = 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runBench(name: string, figuresFile: string): Promise<number | null> {
  // No IPC channel: each bench runs as `node dist/bench/<name>.js` would.
  const child = spawn(process.execPath, [join(__dirname, `${name}.js`)], {
    env: { ...process.env, [FIGURES_FILE_ENV]: figuresFile },
    stdio: 'inherit',
  });
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      resolve(code);
    });
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
