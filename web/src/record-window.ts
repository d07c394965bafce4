// record-window.ts - one container's records over the dashboard's sliding
// window, as columns uPlot takes without copying (mode 1: one x array, one
// y array per series, NaN where a series has no value). Rows are kept sorted
// by time (uPlot finds the visible range by binary search); records arrive
// nearly sorted, so insertion from the end costs little. Columns grow by
// doubling up to a cap; past it the oldest tenth is dropped at once, so the
// window then holds fewer seconds than chosen (the page says so).
import { ABSENT } from '../../src/core/records';

/** uPlot series order of the latency chart, after x. */
export const SERIES = ['egress total', 'ingress total', 'egress stack', 'egress virt', 'ingress stack', 'ingress virt'] as const;
const COLS = 1 + SERIES.length;
const INITIAL = 4096;

export class RecordWindow {
  private cols: Float64Array[];
  private start = 0;
  private end = 0;
  /** rows dropped because the cap was reached (not because they aged out) */
  capped = 0;

  constructor(readonly cap: number) {
    this.cols = Array.from({ length: COLS }, () => new Float64Array(INITIAL));
  }

  get length(): number {
    return this.end - this.start;
  }

  /** Seconds since the epoch of the oldest row (NaN when empty). */
  get firstX(): number {
    return this.length ? this.cols[0][this.start] : NaN;
  }

  /** Appends one record: x in epoch seconds, dir 0 egress / 1 ingress, parts in ns (ABSENT = not observed). */
  push(x: number, dir: number, total: number, stack: number, virt: number): void {
    if (this.end === this.cols[0].length) this.makeRoom();
    const c = this.cols;
    let i = this.end++;
    const e = dir === 0;
    const s = stack === ABSENT ? NaN : stack;
    const v = virt === ABSENT ? NaN : virt;
    c[0][i] = x;
    c[1][i] = e ? total : NaN;
    c[2][i] = e ? NaN : total;
    c[3][i] = e ? s : NaN;
    c[4][i] = e ? v : NaN;
    c[5][i] = e ? NaN : s;
    c[6][i] = e ? NaN : v;
    // keep x ascending: swap the new row back past later ones
    while (i > this.start && c[0][i - 1] > c[0][i]) {
      for (let k = 0; k < COLS; k++) {
        const t = c[k][i];
        c[k][i] = c[k][i - 1];
        c[k][i - 1] = t;
      }
      i--;
    }
  }

  /** Drops rows older than xMin (epoch s). */
  evictBefore(xMin: number): void {
    const x = this.cols[0];
    while (this.start < this.end && x[this.start] < xMin) this.start++;
    if (this.start === this.end) this.start = this.end = 0;
  }

  clear(): void {
    this.start = this.end = 0;
  }

  /** Zero-copy views for uPlot: [x, ...SERIES]. Valid until the next push. */
  views(): Float64Array[] {
    return this.cols.map((c) => c.subarray(this.start, this.end));
  }

  private makeRoom(): void {
    const n = this.length;
    const size = this.cols[0].length;
    if (this.start > size / 4) {
      for (const c of this.cols) c.copyWithin(0, this.start, this.end);
    } else if (size < this.cap) {
      const bigger = Math.min(this.cap, size * 2);
      this.cols = this.cols.map((c) => {
        const g = new Float64Array(bigger);
        g.set(c.subarray(this.start, this.end));
        return g;
      });
    } else {
      const drop = Math.ceil(n / 10);
      this.capped += drop;
      for (const c of this.cols) c.copyWithin(0, this.start + drop, this.end);
      this.start += drop;
      this.end -= this.start;
      this.start = 0;
      return;
    }
    this.end = n;
    this.start = 0;
  }
}
