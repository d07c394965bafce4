// under-stats.ts - one piece of work with macebpf tracing c1 and the
// kernel's BPF accounting on: what macebpf's programs ran meanwhile, and the
// host's busy CPU time to compare it with (tax and perturbation sections).
import * as fs from 'node:fs';
import { iperfClient } from '../src/lab/traffic';
import { deltas, enableStats, progStats, type ProgDelta } from './bpfstats';
import { startTracing, type BenchContext, type Tracing } from './context';

/** Busy CPU time of all CPUs so far, in ns (/proc/stat: user, nice, system, irq, softirq, steal). */
function busyCpuNs(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return ((user + nice + system + irq + softirq + steal) * 1e9) / 100; // USER_HZ is 100 on Linux
}

/** Runs work with macebpf tracing c1 and BPF stats on: its result, and the runs and run time of macebpf's programs meanwhile. */
export async function underStats<T>(ctx: BenchContext, work: (t: Tracing) => Promise<T>): Promise<{ result: T; byProgram: ProgDelta[]; hits: number; bpfNs: number }> {
  const stats = enableStats();
  const t = await startTracing(ctx);
  try {
    const before = await progStats();
    const result = await work(t);
    const byProgram = deltas(before, await progStats(), t.progIds);
    return { result, byProgram, hits: byProgram.reduce((a, x) => a + x.runCnt, 0), bpfNs: byProgram.reduce((a, x) => a + x.runTimeNs, 0) };
  } finally {
    t.close();
    stats.restore();
  }
}

export interface TransferUnderStats {
  gbitPerS: number;
  wallS: number;
  /** busy CPU ns of all CPUs during the transfer */
  cpuNs: number;
  /** records of the traced containers delivered to JS meanwhile */
  records: number;
  byProgram: ProgDelta[];
  hits: number;
  bpfNs: number;
}

/** An iperf3 TCP transfer from container ns to the target (server on port) while macebpf traces c1, BPF stats on. */
export async function transferUnderStats(ctx: BenchContext, ns: string, port: number, seconds: number): Promise<TransferUnderStats> {
  const run = await underStats(ctx, async (t) => {
    const cpu0 = busyCpuNs();
    const t0 = process.hrtime.bigint();
    const r0 = t.records();
    const res = await iperfClient(ns, ctx.lab.target.ip4, { seconds, port });
    return { gbitPerS: res.bitsPerSecond / 1e9, wallS: Number(process.hrtime.bigint() - t0) / 1e9, cpuNs: busyCpuNs() - cpu0, records: t.records() - r0 };
  });
  return { ...run.result, byProgram: run.byProgram, hits: run.hits, bpfNs: run.bpfNs };
}
