// Recent latency records of one container and direction, kept as columns of
// typed arrays so the dashboard (uPlot) can plot them without reshaping, and
// preallocated so the hot path (one push per record) never allocates.

/** Columns in push order, oldest first. `ts` is wall-clock ms; the rest are ns, NaN = part not observed. */
export interface LatencyColumns {
  ts: Float64Array;
  total: Float64Array;
  stack: Float64Array;
  virt: Float64Array;
}

export class LatencyRing {
  readonly capacity: number;
  private readonly cols: LatencyColumns;
  private head = 0; // index of the oldest entry
  private count = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new Error(`LatencyRing capacity must be a positive integer, got ${capacity}; pass e.g. 10000`);
    }
    this.capacity = capacity;
    this.cols = {
      ts: new Float64Array(capacity),
      total: new Float64Array(capacity),
      stack: new Float64Array(capacity),
      virt: new Float64Array(capacity),
    };
  }

  get size(): number {
    return this.count;
  }

  /** Appends one record in O(1); when full, overwrites the oldest. */
  push(ts: number, total: number, stack: number, virt: number): void {
    let i = this.head + this.count;
    if (i >= this.capacity) i -= this.capacity;
    this.cols.ts[i] = ts;
    this.cols.total[i] = total;
    this.cols.stack[i] = stack;
    this.cols.virt[i] = virt;
    if (this.count < this.capacity) this.count++;
    else if (++this.head === this.capacity) this.head = 0;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  /** Copies of all entries, oldest first (safe to keep: later pushes do not change them). */
  snapshot(): LatencyColumns {
    return this.tail(this.count);
  }

  /**
   * Copies of the newest entries with `ts >= tsMs`, oldest first. Scans back
   * from the newest entry and stops at the first older one, so the cost is
   * proportional to the result; it assumes records arrive in time order.
   */
  since(tsMs: number): LatencyColumns {
    let n = 0;
    while (n < this.count && this.cols.ts[this.physical(this.count - 1 - n)] >= tsMs) n++;
    return this.tail(n);
  }

  private physical(logical: number): number {
    const i = this.head + logical;
    return i >= this.capacity ? i - this.capacity : i;
  }

  // The newest n entries, unrolled from the circular layout into fresh arrays.
  private tail(n: number): LatencyColumns {
    const start = this.physical(this.count - n);
    const firstLen = Math.min(n, this.capacity - start);
    const copy = (src: Float64Array): Float64Array => {
      const out = new Float64Array(n);
      out.set(src.subarray(start, start + firstLen), 0);
      out.set(src.subarray(0, n - firstLen), firstLen);
      return out;
    };
    return { ts: copy(this.cols.ts), total: copy(this.cols.total), stack: copy(this.cols.stack), virt: copy(this.cols.virt) };
  }
}
