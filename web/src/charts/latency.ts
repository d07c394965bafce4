// latency.ts - every record in the window as a point: x its time, y its
// latency on a log scale, one series per direction and part (the legend
// toggles them: total, or stack and virt apart). uPlot's own point drawing
// would build a path of 100,000 arcs; instead the series draw themselves
// as small squares with a per-series occupancy grid, so a frame costs one
// pass over the visible rows and at most one fillRect per grid cell.
import uPlot from 'uplot';
import { formatNs } from '../../../src/core/units';
import { SERIES } from '../record-window';
import { axis, type Theme } from './theme';
import { fitWidth } from './size';

const HEIGHT = 300;

export function nsValue(_u: uPlot, v: number | null): string {
  return v == null || Number.isNaN(v) ? '–' : formatNs(v);
}

export const nsTicks = (_u: uPlot, splits: number[]): string[] => splits.map((v) => (v == null ? '' : formatNs(v)));

/** Log axes: ticks and grid at decades only (uPlot also splits at 2..9 × each). */
export const decades = (_u: uPlot, splits: number[]): Array<number | null> => splits.map((v) => (Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9 ? v : null));

let occupancy = new Uint8Array(0);

function drawPoints(color: string, u: uPlot, si: number, i0: number, i1: number): null {
  const xs = u.data[0];
  const ys = u.data[si];
  const { left, top, width, height } = u.bbox;
  const sx = u.scales.x;
  const sy = u.scales.y;
  if (sx.min == null || sx.max == null || sy.min == null || sy.max == null || width <= 0 || height <= 0) return null;
  const xMin = sx.min;
  const kx = width / (sx.max - xMin);
  const lMax = Math.log10(sy.max);
  const ky = height / (lMax - Math.log10(sy.min));
  const size = Math.max(2, Math.round(2.5 * devicePixelRatio));
  const cols = Math.ceil(width / size) + 1;
  const cells = cols * (Math.ceil(height / size) + 1);
  if (occupancy.length < cells) occupancy = new Uint8Array(cells);
  else occupancy.fill(0, 0, cells);
  const ctx = u.ctx;
  ctx.fillStyle = color;
  const half = size / 2;
  for (let i = i0; i <= i1; i++) {
    const y = ys[i];
    if (!(y! > 0)) continue; // NaN: not this series' row, or part not observed
    const px = (xs[i] - xMin) * kx;
    const py = (lMax - Math.log10(y!)) * ky;
    if (px < 0 || px > width || py < 0 || py > height) continue;
    const cell = ((py / size) | 0) * cols + ((px / size) | 0);
    if (occupancy[cell]) continue;
    occupancy[cell] = 1;
    ctx.fillRect(left + px - half, top + py - half, size, size);
  }
  return null;
}

export class LatencyChart {
  readonly u: uPlot;
  private readonly unfit: () => void;
  private xRange: [number, number] = [0, 1];

  constructor(box: HTMLElement, t: Theme) {
    const colors = [t.egress, t.ingress, t.stack, t.virt, t.stackIn, t.virtIn];
    const opts: uPlot.Options = {
      width: Math.max(200, box.clientWidth),
      height: HEIGHT,
      pxAlign: 0,
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      legend: { live: false },
      scales: {
        x: { time: true, auto: false, range: () => this.xRange },
        y: { distr: 3, log: 10, range: (_u, min, max) => (Number.isFinite(min) && min > 0 ? uPlot.rangeLog(min, max, 10, true) : [1e3, 1e6]) },
      },
      axes: [axis(t, 'time (local clock)'), axis(t, 'latency (log scale)', { values: nsTicks, filter: decades, size: 70 })],
      series: [
        {},
        ...SERIES.map((label, i) => ({
          label,
          stroke: colors[i],
          show: i < 2,
          paths: (u: uPlot, si: number, i0: number, i1: number) => drawPoints(colors[i], u, si, i0, i1),
          points: { show: false },
          value: nsValue,
        })),
      ],
    };
    this.u = new uPlot(opts, SERIES.reduce<Float64Array[]>((a) => [...a, new Float64Array(0)], [new Float64Array(0)]), box);
    this.unfit = fitWidth(this.u, box, HEIGHT);
  }

  /** One redraw: the window's rows and the x range [xMin, xMax] (epoch s). */
  update(views: Float64Array[], xMin: number, xMax: number): void {
    this.xRange = [xMin, xMax];
    this.u.setData(views, true);
  }

  destroy(): void {
    this.unfit();
    this.u.destroy();
  }
}
