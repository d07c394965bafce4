// clock.ts - record timestamps are CLOCK_MONOTONIC (bpf_ktime_get_ns); CSV
// and the dashboard want wall time. A paired reading of both clocks gives the
// offset; it is refreshed so NTP slews of the wall clock are followed.
import { loadAddon } from './addon';

const REFRESH_MS = 1000;

export class WallClock {
  private offset = 0n;
  private readAtMs = -Infinity;

  /** Add to a CLOCK_MONOTONIC ns reading to get wall-clock ns; take it once per batch. */
  offsetNs(): bigint {
    const now = Date.now();
    if (now - this.readAtMs > REFRESH_MS) {
      const [real, mono] = loadAddon().clockPair();
      this.offset = real - mono;
      this.readAtMs = now;
    }
    return this.offset;
  }
}
