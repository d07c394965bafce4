// rates.ts - packets/s (left axis) and bytes/s (right axis) at the
// container's device per direction, one point per daemon summary, plus the
// rate limit and the rate the limiter let through while one is set.
import uPlot from 'uplot';
import { formatBytes } from '../../../src/core/units';
import type { RateHistory } from '../model';
import { fitWidth, frame } from './size';
import { axis, type Theme } from './theme';

const HEIGHT = 220;
const bytesPerS = (v: number | null): string => (v == null ? '–' : `${formatBytes(v)}/s`);
const pps = (v: number | null): string => (v == null ? '–' : v < 10 ? v.toFixed(1) : Math.round(v).toLocaleString('en'));

export class RatesChart {
  readonly u: uPlot;
  private readonly unfit: () => void;
  private xRange: [number, number] = [0, 1];

  constructor(box: HTMLElement, t: Theme) {
    const s = (label: string, stroke: string, scale: string, fmt: (v: number | null) => string, dash?: number[]): uPlot.Series => ({
      label,
      stroke,
      scale,
      dash,
      width: 1.5,
      points: { show: false },
      value: (_u, v) => fmt(v),
    });
    this.u = new uPlot(
      {
        ...frame(box, HEIGHT),
        scales: {
          x: { time: true, auto: false, range: () => this.xRange },
          pps: { range: (_u, _min, max) => [0, Math.max(10, max * 1.15)] },
          Bps: { range: (_u, _min, max) => [0, Math.max(1024, max * 1.15)] },
        },
        axes: [
          axis(t, 'time (local clock)'),
          axis(t, 'packets/s', { scale: 'pps', values: (_u: uPlot, sp: number[]) => sp.map(pps), size: 60 }),
          axis(t, 'bytes/s', { scale: 'Bps', side: 1, grid: { show: false }, values: (_u: uPlot, sp: number[]) => sp.map(bytesPerS), size: 80 }),
        ],
        series: [
          {},
          s('egress packets/s', t.egress, 'pps', pps),
          s('ingress packets/s', t.ingress, 'pps', pps),
          s('egress bytes/s', t.egress, 'Bps', bytesPerS, [5, 3]),
          s('ingress bytes/s', t.ingress, 'Bps', bytesPerS, [5, 3]),
          s('limit', t.limit, 'Bps', bytesPerS, [2, 2]),
          s('achieved under limit', t.limit, 'Bps', bytesPerS),
        ],
      },
      [[], [], [], [], [], [], []],
      box,
    );
    this.unfit = fitWidth(this.u, box, HEIGHT);
  }

  update(h: RateHistory | undefined, xMin: number, xMax: number): void {
    this.xRange = [xMin, xMax];
    if (!h) return this.u.setData([[], [], [], [], [], [], []], true);
    this.u.setData([h.x, h.egressPps, h.ingressPps, h.egressBps, h.ingressBps, h.limitBps, h.achievedBps], true);
  }

  destroy(): void {
    this.unfit();
    this.u.destroy();
  }
}
