import { appendFileSync } from 'node:fs';

/**
 * One figure of the performance issue (issue 13), measured next to its baseline in the same run. Each bench
 * records its figures with `recordFigures`; `bench/run-all.ts` collects those of every bench it ran into the
 * final summary table (and the JSON report of BENCH_REPORT).
 */
export interface BenchFigure {
  /** Which of the targets (1-5), or 0 for a figure reported beside them without a target of its own. */
  readonly target: number;
  readonly name: string;
  readonly unit: string;
  readonly measured: number;
  /** The target as text (`>= 5000`, `<= 3x bare`, `< 1024`), or undefined when the figure is only reported. */
  readonly goal?: string;
  /** The baseline measured in the same run, in `unit`, when there is one. */
  readonly baseline?: number;
  readonly baselineName?: string;
  /** measured / baseline, when there is a baseline. */
  readonly ratio?: number;
  /** Whether the target is met; undefined for a figure without a target. */
  readonly met?: boolean;
  /** Conditions of the measurement (devices, durations), for the reader. */
  readonly note?: string;
}

/** Where a bench appends its figures (JSON lines), set by run-all for the benches it runs as children. */
export const FIGURES_FILE_ENV = 'BENCH_FIGURES_FILE';

/** Records figures for the summary, and prints them as this bench's own table. */
export function recordFigures(figures: readonly BenchFigure[]): void {
  const file = process.env[FIGURES_FILE_ENV];
  if (file) appendFileSync(file, figures.map((figure) => `${JSON.stringify(figure)}\n`).join(''));
  console.log(formatTable(figures));
}

/** A figure with its ratio against the baseline filled in. */
export function figure(value: Omit<BenchFigure, 'ratio'>): BenchFigure {
  const ratio =
    value.baseline !== undefined && value.baseline !== 0 && Number.isFinite(value.baseline)
      ? value.measured / value.baseline
      : undefined;
  return ratio === undefined ? value : { ...value, ratio };
}

/** An environment variable as a positive number, else the positional argument, else the default. */
export function knob(name: string, fallback: number, positional?: string): number {
  const text = process.env[name] ?? positional;
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, not "${text}"`);
  return value;
}

export function formatTable(figures: readonly BenchFigure[]): string {
  const rows = figures.map((f) => [
    f.target === 0 ? '-' : String(f.target),
    f.name,
    f.goal ?? '(report)',
    `${formatNumber(f.measured)} ${f.unit}`,
    f.baseline === undefined
      ? '-'
      : `${formatNumber(f.baseline)} ${f.unit} (${f.baselineName ?? 'baseline'})`,
    f.ratio === undefined ? '-' : f.ratio.toFixed(3),
    f.met === undefined ? '-' : f.met ? 'met' : 'NOT MET',
  ]);
  const header = ['#', 'figure', 'target', 'measured', 'baseline', 'ratio', 'verdict'];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...rows.map(line)]
    .map((text) => `  ${text.trimEnd()}`)
    .join('\n');
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value) || Number.isInteger(value)) return value.toLocaleString('en-US');
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}
