// perf.ts - the dashboard's own frame times (ms of main-thread work per frame
// that drew something, uPlot's commit included), kept for the benchmark.
export class Perf {
  private readonly samples: number[] = [];

  add(ms: number): void {
    this.samples.push(ms);
    if (this.samples.length > 10_000) this.samples.splice(0, 5_000);
  }

  reset(): void {
    this.samples.length = 0;
  }

  /** median and p99 of the frames since the last reset */
  summary(): { frames: number; medianMs: number; p99Ms: number } {
    const s = [...this.samples].sort((a, b) => a - b);
    const at = (q: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
    return { frames: s.length, medianMs: at(0.5), p99Ms: at(0.99) };
  }
}
