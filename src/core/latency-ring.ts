// Recent latency records of one container and direction, kept as columns of
// typed arrays so the dashboard (uPlot) and the CSV endpoint read them
// without reshaping, and preallocated so the hot path (one push per record)
// never allocates.

/** Columns in push order, oldest first. `t` is ns since the store's base
 * wall-clock time; latencies are ns, NaN = part not observed. */
export interface LatencyColumns {
  t: Float64Array;
  total: Float64Array;
  stack: Float64Array;
  virt: Float64Array;
  packetId: Uint32Array;
  proto: Uint8Array;
}

/** Bytes one entry takes in a ring (for memory budgets). */
export const RING_ENTRY_BYTES = 4 * 8 + 4 + 1;

export class LatencyRing {
  readonly capacity: number;
  private readonly cols: LatencyColumns;
  private head = 0; // index of the oldest entry
  private count = 0;
  private pushed = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new Error(`LatencyRing capacity must be a positive integer, got ${capacity}; pass e.g. 10000`);
    }
    this.capacity = capacity;
    this.cols = {
      t: new Float64Array(capacity),
      total: new Float64Array(capacity),
      stack: new Float64Array(capacity),
      virt: new Float64Array(capacity),
      packetId: new Uint32Array(capacity),
      proto: new Uint8Array(capacity),
    };
  }

  get size(): number {
    return this.count;
  }

  /** Entries pushed since creation (including overwritten ones): a cursor for readers. */
  get total(): number {
    return this.pushed;
  }

  /** Appends one record in O(1); when full, overwrites the oldest. */
  push(t: number, total: number, stack: number, virt: number, packetId: number, proto: number): void {
    let i = this.head + this.count;
    if (i >= this.capacity) i -= this.capacity;
    const c = this.cols;
    c.t[i] = t;
    c.total[i] = total;
    c.stack[i] = stack;
    c.virt[i] = virt;
    c.packetId[i] = packetId;
    c.proto[i] = proto;
    this.pushed++;
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
   * Copies of the newest entries with `t >= t0`, oldest first. Scans back
   * from the newest entry and stops at the first older one, so the cost is
   * proportional to the result; it assumes records arrive in time order.
   */
  since(t0: number): LatencyColumns {
    let n = 0;
    while (n < this.count && this.cols.t[this.physical(this.count - 1 - n)] >= t0) n++;
    return this.tail(n);
  }

  /**
   * Copies of at most `max` entries pushed after cursor `from` (a former
   * `total`), oldest first; `next` is the cursor to continue from, and
   * `skipped` counts entries after `from` that were overwritten unread.
   */
  after(from: number, max = Infinity): { cols: LatencyColumns; next: number; skipped: number } {
    const oldest = this.pushed - this.count; // cursor of the oldest entry held
    const start = Math.max(from, oldest);
    const n = Math.max(0, Math.min(this.pushed - start, max));
    return { cols: this.slice(start - oldest, n), next: start + n, skipped: Math.max(0, start - from) };
  }

  private physical(logical: number): number {
    const i = this.head + logical;
    return i >= this.capacity ? i - this.capacity : i;
  }

  private tail(n: number): LatencyColumns {
    return this.slice(this.count - n, n);
  }

  // n entries from logical position first (0 = oldest), unrolled from the
  // circular layout into fresh arrays.
  private slice(first: number, n: number): LatencyColumns {
    const start = this.physical(first);
    const firstLen = Math.min(n, this.capacity - start);
    const copy = <T extends Float64Array | Uint32Array | Uint8Array>(src: T, make: (n: number) => T): T => {
      const out = make(n);
      out.set(src.subarray(start, start + firstLen), 0);
      out.set(src.subarray(0, n - firstLen), firstLen);
      return out;
    };
    const f64 = (k: number): Float64Array => new Float64Array(k);
    const c = this.cols;
    return {
      t: copy(c.t, f64),
      total: copy(c.total, f64),
      stack: copy(c.stack, f64),
      virt: copy(c.virt, f64),
      packetId: copy(c.packetId, (k) => new Uint32Array(k)),
      proto: copy(c.proto, (k) => new Uint8Array(k)),
    };
  }
}
