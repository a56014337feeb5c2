import uPlot from 'uplot';

export interface ChartSeries {
  readonly label: string;
  /** The y scale it is drawn against: series of different units get their own axis. */
  readonly scale?: string;
}

export interface ChartOptions {
  /** Names the chart for screen readers (the figures beside it carry the numbers). */
  readonly label: string;
  readonly series: readonly ChartSeries[];
  /** Points older than this are dropped. */
  readonly windowMs: number;
  readonly height?: number;
  /** Axis labels per scale. */
  readonly scales?: Readonly<Record<string, string>>;
}

/** Colours that stay apart for common colour-vision deficiencies (Okabe–Ito). */
const PALETTE = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#000000', '#f0e442'];

/**
 * A live time-series chart on uPlot: points are appended as they arrive and those older than the window dropped.
 * The container's `data-points` attribute holds how many points are drawn, for tests and for curious users.
 */
export class TimeChart {
  private readonly plot: uPlot;
  private readonly times: number[] = [];
  private readonly columns: (number | null)[][];
  private readonly resizer: ResizeObserver;

  constructor(
    private readonly container: HTMLElement,
    private readonly options: ChartOptions,
  ) {
    container.classList.add('chart');
    container.setAttribute('role', 'img');
    container.setAttribute('aria-label', options.label);
    this.columns = options.series.map(() => []);
    const scales = [...new Set(options.series.map((series) => series.scale ?? 'y'))];
    this.plot = new uPlot(
      {
        width: Math.max(300, container.clientWidth),
        height: options.height ?? 220,
        // Timestamps in milliseconds, as the API gives them.
        ms: 1,
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        scales: { x: { time: true } },
        axes: [
          {},
          // uPlot's Axis.Side is an ambient const enum, out of reach with isolatedModules: 3 is left, 1 right.
          // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
          ...scales.map((scale, index) => ({
            scale,
            side: index === 0 ? 3 : 1,
            label: options.scales?.[scale],
            grid: { show: index === 0 },
          })),
        ],
        series: [
          {},
          ...options.series.map((series, index) => ({
            label: series.label,
            scale: series.scale ?? 'y',
            stroke: PALETTE[index % PALETTE.length],
            width: 2,
            spanGaps: true,
            points: { show: false },
          })),
        ],
      },
      this.data(),
      container,
    );
    this.resizer = new ResizeObserver(() => {
      this.plot.setSize({ width: Math.max(300, container.clientWidth), height: options.height ?? 220 });
    });
    this.resizer.observe(container);
    this.updateCount();
  }

  /** Replaces every point (values per series, in the order the series were given). */
  setPoints(points: readonly { readonly time: number; readonly values: readonly (number | null)[] }[]): void {
    this.times.length = 0;
    for (const column of this.columns) column.length = 0;
    for (const point of points) this.push(point.time, point.values);
    this.redraw();
  }

  append(time: number, values: readonly (number | null)[]): void {
    this.push(time, values);
    this.redraw();
  }

  get pointCount(): number {
    return this.times.length;
  }

  destroy(): void {
    this.resizer.disconnect();
    this.plot.destroy();
  }

  private push(time: number, values: readonly (number | null)[]): void {
    this.times.push(time);
    this.columns.forEach((column, index) => column.push(values[index] ?? null));
    const oldest = time - this.options.windowMs;
    let drop = 0;
    while (drop < this.times.length && (this.times[drop] ?? 0) < oldest) drop++;
    if (drop > 0) {
      this.times.splice(0, drop);
      for (const column of this.columns) column.splice(0, drop);
    }
  }

  private redraw(): void {
    this.plot.setData(this.data());
    this.updateCount();
  }

  private data(): uPlot.AlignedData {
    return [this.times, ...this.columns];
  }

  private updateCount(): void {
    this.container.dataset.points = String(this.times.length);
  }
}
