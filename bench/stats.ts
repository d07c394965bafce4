// stats.ts - small descriptive statistics for the benchmark: medians and
// spread of repetitions, lossless histograms of quantised samples.

export interface Summary {
  n: number;
  median: number;
  mean: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
}

function sorted(xs: readonly number[]): number[] {
  return xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
}

/** Quantile by linear interpolation between closest ranks; NaN for no data. */
export function quantile(xs: readonly number[], q: number): number {
  const s = sorted(xs);
  return quantileSorted(s, q);
}

function quantileSorted(s: readonly number[], q: number): number {
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function mean(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x));
  return s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
}

export function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

export function summarize(xs: readonly number[]): Summary {
  const s = sorted(xs);
  return {
    n: s.length,
    median: quantileSorted(s, 0.5),
    mean: mean(s),
    p10: quantileSorted(s, 0.1),
    p90: quantileSorted(s, 0.9),
    min: s.length ? s[0]! : NaN,
    max: s.length ? s[s.length - 1]! : NaN,
  };
}

/** Median and range of per-repetition values: what the summary tables print. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  reps: number[];
}

export function spread(reps: readonly number[]): Spread {
  const s = sorted(reps);
  return { median: quantileSorted(s, 0.5), min: s.length ? s[0]! : NaN, max: s.length ? s[s.length - 1]! : NaN, reps: [...reps] };
}

/**
 * Histogram of values rounded to `bin` (value → count), sorted by value.
 * ping prints RTTs in whole µs, so with bin = 1 µs this is lossless.
 */
export function histogram(xs: readonly number[], bin: number): Record<string, number> {
  const counts = new Map<number, number>();
  for (const x of xs) {
    if (!Number.isFinite(x)) continue;
    const k = Math.round(x / bin) * bin;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const out: Record<string, number> = {};
  for (const k of [...counts.keys()].sort((a, b) => a - b)) out[fmtKey(k)] = counts.get(k)!;
  return out;
}

function fmtKey(k: number): string {
  return String(Number(k.toFixed(6)));
}

/** Number formatting for the summary: fixed decimals, "n/a" for NaN. */
export function fmt(x: number, decimals = 1): string {
  return Number.isFinite(x) ? x.toFixed(decimals) : 'n/a';
}

/** "median (min–max)" of a spread. */
export function fmtSpread(s: Spread, decimals = 1): string {
  if (!Number.isFinite(s.median)) return 'n/a';
  return `${fmt(s.median, decimals)} (${fmt(s.min, decimals)}–${fmt(s.max, decimals)})`;
}
