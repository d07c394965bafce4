// clock.ts - record timestamps are CLOCK_MONOTONIC (bpf_ktime_get_ns); CSV
// and the dashboard want wall time. A paired reading of both clocks gives the
// offset; it is refreshed so NTP slews of the wall clock are followed.
import * as fs from 'node:fs';
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

/** CLOCK_REALTIME now, ns since the epoch. */
export function wallClockNs(): bigint {
  return loadAddon().clockPair()[0];
}

/** CLOCK_MONOTONIC now, ns (the clock of BPF timestamps and limit state). */
export function monotonicNs(): bigint {
  return loadAddon().clockPair()[1];
}

const CLOCKSOURCE = '/sys/devices/system/clocksource/clocksource0/current_clocksource';

/** The kernel's clocksource; bpf_ktime_get_ns reads the TSC only when it is "tsc". */
export function clocksource(): string {
  try {
    return fs.readFileSync(CLOCKSOURCE, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
