import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/core/histogram';

// Deterministic PRNG (mulberry32) so a failure reproduces.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Nearest-rank quantile of sorted data: the definition the histogram follows.
function exact(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

const QS = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1];

const datasets: Record<string, (r: () => number) => number> = {
  // log-normal around 20 µs, like real per-packet latencies with a long tail
  lognormal: (r) => Math.round(20_000 * Math.exp(1.5 * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))),
  // uniform over the whole supported range, 1 ns .. 68 s
  logUniform: (r) => Math.round(2 ** (r() * 36)),
  // small values where buckets are exact
  tiny: (r) => Math.floor(r() * 40),
};

describe('LatencyHistogram', () => {
  it.each(Object.keys(datasets))('quantiles of %s data are within 3%% of exact', (name) => {
    const r = rng(42);
    const h = new LatencyHistogram();
    const data: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const v = datasets[name](r);
      data.push(v);
      h.record(v);
    }
    data.sort((a, b) => a - b);
    expect(h.count).toBe(data.length);
    expect(h.min).toBe(data[0]);
    expect(h.max).toBe(data[data.length - 1]);
    for (const q of QS) {
      const want = exact(data, q);
      const got = h.quantile(q);
      expect(Math.abs(got - want), `q=${q} want ${want} got ${got}`).toBeLessThanOrEqual(want * 0.03);
    }
  });

  it('returns exact min and max for q=0 and q=1, NaN when empty', () => {
    const h = new LatencyHistogram();
    expect(h.quantile(0.5)).toBeNaN();
    expect(h.min).toBeNaN();
    for (const v of [1234, 987_654, 55]) h.record(v);
    expect(h.quantile(0)).toBe(55);
    expect(h.quantile(1)).toBe(987_654);
  });

  it('counts NaN, negative and infinite values as rejected instead of recording them', () => {
    const h = new LatencyHistogram();
    h.record(NaN);
    h.record(-1);
    h.record(Infinity);
    h.record(100);
    expect(h.count).toBe(1);
    expect(h.rejected).toBe(3);
  });

  it('clamps values beyond ~68.7 s into the top bucket but keeps max exact', () => {
    const h = new LatencyHistogram();
    h.record(1e12);
    h.record(1e12);
    expect(h.max).toBe(1e12);
    expect(h.quantile(1)).toBe(1e12);
    expect(h.quantile(0.5)).toBeGreaterThan(2 ** 36 * 0.97);
  });

  it('rejects a quantile outside 0..1 with the value', () => {
    expect(() => new LatencyHistogram().quantile(99)).toThrow('quantile must be between 0 and 1, got 99');
  });

  it('merge() equals recording everything in one histogram; reset() empties it', () => {
    const r = rng(7);
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 0; i < 10_000; i++) {
      const v = Math.round(2 ** (r() * 30));
      (i % 3 ? a : b).record(v);
      all.record(v);
    }
    a.merge(b);
    expect(a.count).toBe(all.count);
    expect(a.min).toBe(all.min);
    expect(a.max).toBe(all.max);
    for (const q of QS) expect(a.quantile(q)).toBe(all.quantile(q));
    a.reset();
    expect(a.count).toBe(0);
    expect(a.quantile(0.5)).toBeNaN();
  });

  it('buckets u32 integers (the fast path) exactly as the general path does', () => {
    // v + 0.25 takes the general path and floors to v: same bucket, so every
    // quantile agrees up to the 0.25 by which min and max differ.
    const r = rng(11);
    const fast = new LatencyHistogram();
    const general = new LatencyHistogram();
    const vs = [0, 1, 31, 32, 33, 63, 64, 65, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 2];
    for (let i = 0; i < 20_000; i++) vs.push(Math.floor(2 ** (r() * 32)) % 2 ** 32);
    for (const v of vs) {
      fast.record(v);
      general.record(v + 0.25);
    }
    for (const q of [...QS, 0, 0.001, 0.1, 0.3, 0.7, 1]) expect(Math.abs(fast.quantile(q) - general.quantile(q))).toBeLessThanOrEqual(0.25);
    for (let k = 0; k < 200; k++) {
      const v = Math.floor(r() * 2 ** 32);
      const a = new LatencyHistogram();
      const b = new LatencyHistogram();
      a.record(v);
      b.record(v + 0.25);
      a.record(v * 0.5 + 7); // a second, non-integer value sets the clamps apart from v
      b.record(v * 0.5 + 7);
      expect(Math.abs(a.quantile(1) - b.quantile(1))).toBeLessThanOrEqual(0.25);
      expect(Math.abs(a.quantile(0.5) - b.quantile(0.5))).toBeLessThanOrEqual(0.25);
    }
  });
});
