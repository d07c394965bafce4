// quantiles.ts - p50/p90/p99 over time per direction, one point per time bin
// (window-stats.ts), with the p50..p99 band filled: where the tail is, and
// when it moved.
import uPlot from 'uplot';
import type { Quantiles } from '../window-stats';
import { decades, nsTicks, nsValue } from './latency';
import { fitWidth, frame } from './size';
import { axis, type Theme } from './theme';

const HEIGHT = 220;

export class QuantileChart {
  readonly u: uPlot;
  private readonly unfit: () => void;
  private xRange: [number, number] = [0, 1];

  constructor(box: HTMLElement, t: Theme) {
    const line = (label: string, stroke: string, dash?: number[]): uPlot.Series => ({ label, stroke, width: 1.5, dash, value: nsValue, points: { show: false } });
    this.u = new uPlot(
      {
        ...frame(box, HEIGHT),
        scales: {
          x: { time: true, auto: false, range: () => this.xRange },
          y: { distr: 3, log: 10, range: (_u, min, max) => (Number.isFinite(min) && min > 0 ? uPlot.rangeLog(min, max, 10, true) : [1e3, 1e6]) },
        },
        axes: [axis(t, 'time (local clock)'), axis(t, 'latency (log scale)', { values: nsTicks, filter: decades, size: 70 })],
        series: [
          {},
          line('egress p50', t.egress),
          line('egress p90', t.egress, [4, 3]),
          line('egress p99', t.egress, [1, 2]),
          line('ingress p50', t.ingress),
          line('ingress p90', t.ingress, [4, 3]),
          line('ingress p99', t.ingress, [1, 2]),
        ],
        bands: [
          { series: [3, 1], fill: t.egressSoft },
          { series: [6, 4], fill: t.ingressSoft },
        ],
      },
      [[], [], [], [], [], [], []],
      box,
    );
    this.unfit = fitWidth(this.u, box, HEIGHT);
  }

  update(q: Quantiles, xMin: number, xMax: number): void {
    this.xRange = [xMin, xMax];
    this.u.setData([q.x, q.p50[0], q.p90[0], q.p99[0], q.p50[1], q.p90[1], q.p99[1]], true);
  }

  destroy(): void {
    this.unfit();
    this.u.destroy();
  }
}
