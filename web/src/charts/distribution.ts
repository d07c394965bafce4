// distribution.ts - the latency distribution of the window's records per
// direction: share of records per log-spaced bucket (window-stats.ts), on a
// log latency axis, so a microsecond mode and a millisecond tail both show.
import uPlot from 'uplot';
import type { Distribution } from '../window-stats';
import { nsTicks } from './latency';
import { fitWidth, frame } from './size';
import { axis, type Theme } from './theme';

const HEIGHT = 220;
const pct = (_u: uPlot, splits: number[]): string[] => splits.map((v) => `${(v * 100).toFixed(v < 0.1 ? 1 : 0)} %`);

export class DistributionChart {
  readonly u: uPlot;
  private readonly unfit: () => void;
  private xRange: [number, number] = [1e3, 1e6];

  constructor(box: HTMLElement, t: Theme) {
    const stepped = uPlot.paths.stepped!({ align: 1 });
    const step = (label: string, stroke: string, fill: string): uPlot.Series => ({
      label,
      stroke,
      fill,
      width: 1.5,
      paths: stepped,
      points: { show: false },
      value: (_u, v) => (v == null ? '–' : `${(v * 100).toFixed(1)} %`),
    });
    this.u = new uPlot(
      {
        ...frame(box, HEIGHT),
        scales: {
          x: { time: false, distr: 3, log: 2, auto: false, range: () => this.xRange },
          y: { range: (_u, _min, max) => [0, Math.max(0.05, max * 1.1)] },
        },
        axes: [axis(t, 'latency (log scale)', { values: nsTicks }), axis(t, 'share of records', { values: pct, size: 60 })],
        series: [{ value: (_u, v) => (v == null ? '–' : nsTicks(_u, [v])[0]) }, step('egress', t.egress, t.egressSoft), step('ingress', t.ingress, t.ingressSoft)],
      },
      [[], [], []],
      box,
    );
    this.unfit = fitWidth(this.u, box, HEIGHT);
  }

  update(d: Distribution): void {
    // x spans the buckets that hold records (both directions), one bucket of margin
    let lo = -1;
    let hi = -1;
    for (let b = 0; b < d.share[0].length; b++) {
      if (d.share[0][b] > 0 || d.share[1][b] > 0) {
        if (lo < 0) lo = b;
        hi = b;
      }
    }
    this.xRange = lo < 0 ? [1e3, 1e6] : [d.edges[Math.max(0, lo - 1)], d.edges[Math.min(d.edges.length - 1, hi + 2)]];
    this.u.setData([d.edges.subarray(0, d.share[0].length), d.share[0], d.share[1]], true);
  }

  destroy(): void {
    this.unfit();
    this.u.destroy();
  }
}
