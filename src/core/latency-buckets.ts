// Cumulative latency buckets in Prometheus' shape (DESIGN §5): upper bounds
// 1 µs·2^k, k = 0..25 (1 µs … 33.5 s) plus +Inf, with count and sum, so that
// /metrics exposes real histograms without a per-record call into a metrics
// library. Pure: the server renders them, the store fills them.

export const BUCKET_COUNT = 26;
/** Upper bounds in seconds, ascending (without +Inf). */
export const BUCKET_BOUNDS_S: readonly number[] = Array.from({ length: BUCKET_COUNT }, (_, k) => 1e-6 * 2 ** k);

export class LatencyBuckets {
  /** Non-cumulative counts; index BUCKET_COUNT is the +Inf overflow. */
  readonly counts = new Float64Array(BUCKET_COUNT + 1);
  count = 0;
  sumNs = 0;

  record(ns: number): void {
    // Smallest k with ns <= 1000·2^k; ns ≤ 1 µs lands in bucket 0. For an
    // integer ns (every record's), ceil(ns / 1000) - 1 = floor((ns - 1) / 1000).
    let k: number;
    if (ns === ns >>> 0) {
      // from floor(log2(ns - 1)), without a division: 1000·2^k with
      // k = log2 - 9 lies in [0.98, 1.96]·2^log2, so one step up at most
      if (ns <= 1000) k = 0;
      else {
        k = 22 - Math.clz32(ns - 1);
        if (k < 0) k = 0;
        if (ns > 1000 * (1 << k)) k++;
      }
    } else {
      const us = ns / 1000;
      k = us <= 1 ? 0 : 32 - Math.clz32(Math.ceil(us) - 1);
    }
    if (k > BUCKET_COUNT) k = BUCKET_COUNT;
    this.counts[k]++;
    this.count++;
    this.sumNs += ns;
  }

  /** Cumulative counts per upper bound, the last one being +Inf (= count). */
  cumulative(): number[] {
    const out: number[] = [];
    let acc = 0;
    for (let k = 0; k <= BUCKET_COUNT; k++) out.push((acc += this.counts[k]));
    return out;
  }
}
