// window-stats.ts - what the quantile and distribution charts show, computed
// from the records in the window: per time bin and direction p50/p90/p99
// (core's LatencyHistogram, the daemon's own estimator), and the latency
// distribution on log-spaced buckets. One pass over the rows; the views
// call it a few times a second, not per animation frame.
import { LatencyHistogram } from '../../src/core/histogram';

/** Bins across the window, whatever its length. */
export const BINS = 60;
/** Distribution buckets per octave of latency: 2^(1/4) apart, about 19 %. */
const PER_OCTAVE = 4;
const MIN_NS = 256; // 2^8: nothing this tracer sees is faster
const OCTAVES = 28; // up to 2^36 ns (68 s), the histogram's own range
const BUCKETS = OCTAVES * PER_OCTAVE;

export type Part = 'total' | 'stack' | 'virt';
/** Columns of RecordWindow.views() per part: [egress, ingress]. */
const PART_COLS: Record<Part, [number, number]> = { total: [1, 2], stack: [3, 5], virt: [4, 6] };

export interface Quantiles {
  x: number[]; // bin centres, epoch s
  p50: [Array<number | null>, Array<number | null>]; // [egress, ingress]
  p90: [Array<number | null>, Array<number | null>];
  p99: [Array<number | null>, Array<number | null>];
}

export interface Distribution {
  /** lower edge of each bucket, ns */
  edges: Float64Array;
  /** share of the direction's records in each bucket, 0..1: [egress, ingress] */
  share: [Float64Array, Float64Array];
  counts: [number, number];
}

const pool: LatencyHistogram[] = [];
const hist = (i: number): LatencyHistogram => (pool[i] ??= new LatencyHistogram());

export const EDGES = Float64Array.from({ length: BUCKETS + 1 }, (_, b) => MIN_NS * 2 ** (b / PER_OCTAVE));

export function windowStats(views: Float64Array[], part: Part, xMin: number, xMax: number): { q: Quantiles; d: Distribution } {
  const xs = views[0];
  const cols = PART_COLS[part].map((c) => views[c]);
  const binS = (xMax - xMin) / BINS;
  for (let i = 0; i < 2 * BINS; i++) hist(i).reset();
  const raw = [new Float64Array(BUCKETS), new Float64Array(BUCKETS)];
  const counts: [number, number] = [0, 0];
  for (let i = 0; i < xs.length; i++) {
    const b = Math.floor((xs[i] - xMin) / binS);
    if (b < 0 || b >= BINS) continue;
    for (let d = 0; d < 2; d++) {
      const v = cols[d][i];
      if (!(v > 0)) continue;
      hist(d * BINS + b).record(v);
      const k = Math.floor(Math.log2(v / MIN_NS) * PER_OCTAVE);
      raw[d][k < 0 ? 0 : k >= BUCKETS ? BUCKETS - 1 : k]++;
      counts[d]++;
    }
  }
  const q: Quantiles = { x: [], p50: [[], []], p90: [[], []], p99: [[], []] };
  for (let b = 0; b < BINS; b++) {
    q.x.push(xMin + (b + 0.5) * binS);
    for (let d = 0; d < 2; d++) {
      const h = hist(d * BINS + b);
      const at = (p: number): number | null => (h.count ? h.quantile(p) : null);
      q.p50[d].push(at(0.5));
      q.p90[d].push(at(0.9));
      q.p99[d].push(at(0.99));
    }
  }
  const share = raw.map((r, d) => r.map((n) => (counts[d] ? n / counts[d] : 0))) as [Float64Array, Float64Array];
  return { q, d: { edges: EDGES, share, counts } };
}
