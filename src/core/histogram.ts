// Streaming latency histogram for p50/p90/p99/p99.9 over an unbounded stream
// in fixed memory. Buckets are log-linear like HdrHistogram: values below 32
// get one exact bucket each, and every power-of-two range [2^k, 2^(k+1)) is
// split into 32 equal sub-buckets. A bucket is then at most 1/32 of its lower
// bound wide, and reporting its midpoint is within 1/64 (~1.6%) of any value
// in it. The range is 1 ns to 2^36 ns (~68.7 s); larger values are clamped
// into the top bucket (max stays exact).

const SUB_BITS = 5;
const SUB = 1 << SUB_BITS; // 32 sub-buckets per octave
const MAX_EXP = 36; // 2^36 ns ≈ 68.7 s
const BUCKETS = SUB + (MAX_EXP - SUB_BITS) * SUB; // 1024
const TOP = 2 ** MAX_EXP - 1;

// floor(log2(v)) for integers up to 2^53; Math.clz32 alone stops at 2^32.
function log2Floor(v: number): number {
  return v >= 2 ** 32 ? 63 - Math.clz32(Math.floor(v / 2 ** 32)) : 31 - Math.clz32(v);
}

function bucketOf(v: number): number {
  if (v < SUB) return v;
  const k = log2Floor(v);
  const shift = k - SUB_BITS;
  return SUB + shift * SUB + Math.floor(v / 2 ** shift) - SUB;
}

// bucketOf for an integer in [32, 2^32), with bit operations only: latencies
// of records are u32 ns, and this runs twice per record (run and window).
function bucketOfU32(v: number): number {
  const shift = 26 - Math.clz32(v); // floor(log2 v) - SUB_BITS
  return shift * SUB + (v >>> shift);
}

// Representative value of a bucket: its midpoint (exact for v < 32).
function valueOf(b: number): number {
  if (b < SUB) return b;
  const shift = Math.floor(b / SUB) - 1;
  const width = 2 ** shift;
  const low = (SUB + (b % SUB)) * width;
  return low + (width - 1) / 2;
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS); // Float64: exact counts up to 2^53
  private n = 0;
  private lo = Infinity;
  private hi = -Infinity;
  private bad = 0;

  /** Number of values recorded. */
  get count(): number {
    return this.n;
  }

  /** Values ignored because they were NaN (part not observed), negative or infinite. */
  get rejected(): number {
    return this.bad;
  }

  /** Exact smallest / largest recorded value (NaN when empty). */
  get min(): number {
    return this.n ? this.lo : NaN;
  }

  get max(): number {
    return this.n ? this.hi : NaN;
  }

  /** Records one latency in ns. Never throws: this runs once per packet. */
  record(ns: number): void {
    if (ns === ns >>> 0) {
      // u32 ns (every record's latencies): no clamping, no float math
      this.counts[ns < SUB ? ns : bucketOfU32(ns)]++;
      this.n++;
      if (ns < this.lo) this.lo = ns;
      if (ns > this.hi) this.hi = ns;
      return;
    }
    if (!(ns >= 0) || ns === Infinity) {
      this.bad++;
      return;
    }
    this.counts[bucketOf(Math.min(Math.floor(ns), TOP))]++;
    this.n++;
    if (ns < this.lo) this.lo = ns;
    if (ns > this.hi) this.hi = ns;
  }

  /**
   * Value at quantile q (0..1, e.g. 0.99) by nearest rank, within ~1.6%
   * relative error (plus clamping above 68.7 s); NaN when empty.
   */
  quantile(q: number): number {
    if (!(q >= 0 && q <= 1)) {
      throw new Error(`quantile must be between 0 and 1, got ${q}; for p99 pass 0.99`);
    }
    if (this.n === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.n));
    let seen = 0;
    for (let b = 0; b < BUCKETS; b++) {
      seen += this.counts[b];
      if (seen >= rank) return Math.min(Math.max(valueOf(b), this.lo), this.hi);
    }
    return this.hi; // unreachable while counts sum to n
  }

  reset(): void {
    this.counts.fill(0);
    this.n = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
    this.bad = 0;
  }

  /** Adds another histogram's values into this one (e.g. per-CPU or per-interval partials). */
  merge(other: LatencyHistogram): void {
    for (let b = 0; b < BUCKETS; b++) this.counts[b] += other.counts[b];
    this.n += other.n;
    this.bad += other.bad;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }
}
