// Latency quantiles over a sliding window (the last N seconds): one
// LatencyHistogram per second in a circular array; a slot is reset when its
// second comes round again, and quantiles merge the slots still inside the
// window. Memory is fixed (N × 8 KiB); record() is O(1).
import { LatencyHistogram } from './histogram';

export class WindowHistogram {
  private readonly slots: LatencyHistogram[];
  private readonly second: Float64Array; // which second each slot holds
  private readonly merged = new LatencyHistogram();
  // The slot of the last record's second: records come in time order, so
  // most find it here without the modulo arithmetic.
  private lastSec = NaN;
  private lastFromNs = Infinity; // [lastFromNs, lastToNs): the ns of lastSec
  private lastToNs = -Infinity;
  private last: LatencyHistogram | undefined;

  constructor(readonly windowS: number) {
    if (!Number.isSafeInteger(windowS) || windowS < 1 || windowS > 3600) {
      throw new Error(`window of ${windowS} s: use a whole number of seconds from 1 to 3600`);
    }
    this.slots = Array.from({ length: windowS }, () => new LatencyHistogram());
    this.second = new Float64Array(windowS).fill(-Infinity);
  }

  /** Records one latency (ns) at time tNs (any monotonic ns scale). */
  record(tNs: number, ns: number): void {
    if (tNs >= this.lastFromNs && tNs < this.lastToNs) {
      this.last!.record(ns); // no division for most records
      return;
    }
    const sec = Math.floor(tNs / 1e9);
    if (sec === this.lastSec) {
      this.last!.record(ns);
      return;
    }
    const i = ((sec % this.windowS) + this.windowS) % this.windowS;
    if (this.second[i] !== sec) {
      if (sec < this.second[i]) return; // older than the window: late record
      this.slots[i].reset();
      this.second[i] = sec;
    }
    this.lastSec = sec;
    // bounds such that floor(tNs / 1e9) = sec exactly for tNs inside (the
    // products are exact: integers below 2^53)
    this.lastFromNs = sec * 1e9;
    this.lastToNs = (sec + 1) * 1e9;
    this.last = this.slots[i]!;
    this.last.record(ns);
  }

  /** The histogram of the window ending at nowNs (same scale as record's tNs). */
  window(nowNs: number): LatencyHistogram {
    const now = Math.floor(nowNs / 1e9);
    this.merged.reset();
    for (let i = 0; i < this.windowS; i++) {
      if (this.second[i] > now - this.windowS && this.second[i] <= now) this.merged.merge(this.slots[i]);
    }
    return this.merged;
  }
}
