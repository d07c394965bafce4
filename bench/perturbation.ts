// perturbation.ts - what tracing does to the traffic it traces (DESIGN §9):
// RTT of back-to-back pings c1 → target and TCP throughput (iperf3) with
// tracing off, with macebpf, and with the bpftrace peer, in interleaved
// repetitions (the order rotates every repetition). "off" means no program
// loaded at all; macebpf is loaded fresh for each repetition, as the CLI
// would be, with the socket stage (the default).
import { iperfClient, startIperfServer, type IperfServer } from '../src/lab/traffic';
import { bpftraceScript, startBpftrace, type BpftraceRun } from './bpftrace';
import { aborted, log, startTracing, type BenchContext, type Tracing } from './context';
import { pingRtts } from './ping';
import { histogram, spread, summarize, type Spread, type Summary } from './stats';
import { transferUnderStats } from './under-stats';

export type Condition = 'off' | 'macebpf' | 'bpftrace';

export interface RttRep {
  condition: Condition;
  rep: number;
  sent: number;
  received: number;
  /** RTTs in µs */
  rtt: Summary;
  /** µs → count (lossless: ping prints whole µs) */
  histogramUs: Record<string, number>;
  /** records delivered to JS while tracing (macebpf only) */
  records?: number;
}

export interface TcpRep {
  condition: Condition;
  rep: number;
  gbitPerS: number;
  retransmits?: number;
}

interface CondStats {
  medianUs: Spread;
  meanUs: Spread;
  p90Us: Spread;
}

export interface TracedTcpBpf {
  gbitPerS: number;
  /** BPF run time of macebpf's programs over the host's busy CPU time during the transfer */
  bpfCpuShare: number;
  /** BPF run time per second of the transfer (all CPUs) */
  bpfNsPerS: number;
  /** records delivered to JS per second */
  recordsPerS: number;
  byProgram: Record<string, { runsPerS: number; nsPerRun: number }>;
}

export interface PerturbationResult {
  rtt: {
    pingsPerRep: number;
    reps: RttRep[];
    byCondition: Partial<Record<Condition, CondStats>>;
    /** per repetition: condition − off (µs) and condition / off, of the per-rep medians and means */
    vsOff: Partial<Record<Exclude<Condition, 'off'>, { medianDiffUs: Spread; meanDiffUs: Spread; medianRatio: Spread; meanRatio: Spread }>>;
  };
  tcp: {
    seconds: number;
    reps: TcpRep[];
    byCondition: Partial<Record<Condition, Spread>>;
    /** condition / off of the median throughputs */
    vsOff: Partial<Record<Exclude<Condition, 'off'>, number>>;
    /** one more traced transfer with BPF stats on: where macebpf's time goes (not in the ratios above, which run without the accounting) */
    tracedBpf?: TracedTcpBpf;
  };
  bpftraceError?: string;
}

function rotate<T>(xs: T[], k: number): T[] {
  const n = k % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

/** Run fn with the condition in effect; undefined if it could not be set up (bpftrace). */
async function withCondition<T>(
  ctx: BenchContext,
  c: Condition,
  script: string,
  onBpftraceError: (msg: string) => void,
  fn: (t?: Tracing) => Promise<T>,
): Promise<T | undefined> {
  let tracing: Tracing | undefined;
  let bt: BpftraceRun | undefined;
  try {
    if (c === 'macebpf') tracing = await startTracing(ctx);
    if (c === 'bpftrace') {
      try {
        bt = await startBpftrace(script, 4);
      } catch (e) {
        if (aborted()) throw e;
        onBpftraceError((e as Error).message);
        return undefined;
      }
    }
    return await fn(tracing);
  } finally {
    tracing?.close();
    if (bt) await bt.stop();
  }
}

export async function runPerturbation(ctx: BenchContext): Promise<PerturbationResult> {
  const script = bpftraceScript(ctx.c1.dev, ctx.outer.name);
  const target = ctx.lab.target.ip4;
  let bpftraceError: string | undefined;
  const onBtErr = (m: string): void => {
    if (bpftraceError === undefined) log(`perturbation: bpftrace cannot run: ${m}`);
    bpftraceError = m;
  };
  const conds = (): Condition[] => (bpftraceError === undefined ? ['off', 'macebpf', 'bpftrace'] : ['off', 'macebpf']);

  // --- RTT ---
  const rttReps = ctx.quick ? 3 : 6;
  const pings = ctx.quick ? 2000 : 5000;
  log(`perturbation: RTT, ${rttReps} interleaved reps × ${pings} back-to-back pings per condition`);
  const rtt: RttRep[] = [];
  for (let rep = 0; rep < rttReps; rep++) {
    for (const c of rotate(conds(), rep)) {
      const r = await withCondition(ctx, c, script, onBtErr, async (t) => {
        await pingRtts(ctx.c1.name, target, 200, 0); // warm-up
        const p = await pingRtts(ctx.c1.name, target, pings, 0);
        const xs = [...p.rttUs.values()];
        const row: RttRep = { condition: c, rep, sent: p.sent, received: p.received, rtt: summarize(xs), histogramUs: histogram(xs, 1) };
        if (t) row.records = t.records();
        return row;
      });
      if (r) rtt.push(r);
    }
    log(`perturbation: RTT rep ${rep + 1}: ${rtt.filter((r) => r.rep === rep).map((r) => `${r.condition} ${r.rtt.median} µs (mean ${r.rtt.mean.toFixed(2)})`).join(', ')}`);
  }
  const byCondition: PerturbationResult['rtt']['byCondition'] = {};
  for (const c of ['off', 'macebpf', 'bpftrace'] as Condition[]) {
    const rs = rtt.filter((r) => r.condition === c);
    if (rs.length) byCondition[c] = { medianUs: spread(rs.map((r) => r.rtt.median)), meanUs: spread(rs.map((r) => r.rtt.mean)), p90Us: spread(rs.map((r) => r.rtt.p90)) };
  }
  const vsOff: PerturbationResult['rtt']['vsOff'] = {};
  for (const c of ['macebpf', 'bpftrace'] as const) {
    const pairs = [...new Set(rtt.map((r) => r.rep))]
      .map((k) => [rtt.find((r) => r.rep === k && r.condition === 'off'), rtt.find((r) => r.rep === k && r.condition === c)] as const)
      .filter((p): p is readonly [RttRep, RttRep] => p[0] !== undefined && p[1] !== undefined);
    if (!pairs.length) continue;
    vsOff[c] = {
      medianDiffUs: spread(pairs.map(([o, x]) => x.rtt.median - o.rtt.median)),
      meanDiffUs: spread(pairs.map(([o, x]) => x.rtt.mean - o.rtt.mean)),
      medianRatio: spread(pairs.map(([o, x]) => x.rtt.median / o.rtt.median)),
      meanRatio: spread(pairs.map(([o, x]) => x.rtt.mean / o.rtt.mean)),
    };
  }

  // --- TCP throughput ---
  const tcpReps = ctx.quick ? 2 : 3;
  const seconds = ctx.quick ? 2 : 3;
  log(`perturbation: TCP throughput, ${tcpReps} interleaved reps × ${seconds} s iperf3 per condition`);
  const tcp: TcpRep[] = [];
  let tracedBpf: TracedTcpBpf;
  let server: IperfServer | undefined;
  try {
    server = await startIperfServer(ctx.lab.target.name, { port: 5201 });
    for (let rep = 0; rep < tcpReps; rep++) {
      for (const c of rotate(conds(), rep)) {
        const r = await withCondition(ctx, c, script, onBtErr, async () => {
          const res = await iperfClient(ctx.c1.name, target, { seconds, port: server!.port });
          const sent = (res.json as { end?: { sum_sent?: { retransmits?: number } } }).end?.sum_sent;
          const row: TcpRep = { condition: c, rep, gbitPerS: res.bitsPerSecond / 1e9 };
          if (sent?.retransmits !== undefined) row.retransmits = sent.retransmits;
          return row;
        });
        if (r) tcp.push(r);
      }
      log(`perturbation: TCP rep ${rep + 1}: ${tcp.filter((r) => r.rep === rep).map((r) => `${r.condition} ${r.gbitPerS.toFixed(2)} Gbit/s`).join(', ')}`);
    }
    tracedBpf = await tracedTcpBpf(ctx, server.port, seconds);
  } finally {
    await server?.stop();
  }
  log(`perturbation: traced TCP with BPF stats: ${tracedBpf.gbitPerS.toFixed(2)} Gbit/s, BPF ${(tracedBpf.bpfNsPerS / 1e6).toFixed(1)} ms/s (${(100 * tracedBpf.bpfCpuShare).toFixed(1)}% of the busy CPU)`);
  const tcpBy: PerturbationResult['tcp']['byCondition'] = {};
  for (const c of ['off', 'macebpf', 'bpftrace'] as Condition[]) {
    const rs = tcp.filter((r) => r.condition === c);
    if (rs.length) tcpBy[c] = spread(rs.map((r) => r.gbitPerS));
  }
  const tcpVs: PerturbationResult['tcp']['vsOff'] = {};
  for (const c of ['macebpf', 'bpftrace'] as const) {
    if (tcpBy[c] && tcpBy.off) tcpVs[c] = tcpBy[c]!.median / tcpBy.off.median;
  }
  const result: PerturbationResult = {
    rtt: { pingsPerRep: pings, reps: rtt, byCondition, vsOff },
    tcp: { seconds, reps: tcp, byCondition: tcpBy, vsOff: tcpVs, tracedBpf },
  };
  if (bpftraceError !== undefined) result.bpftraceError = bpftraceError;
  return result;
}

/** One traced transfer c1 → target (server on port) with the kernel's BPF accounting on: macebpf's programs by run count and run time. */
async function tracedTcpBpf(ctx: BenchContext, port: number, seconds: number): Promise<TracedTcpBpf> {
  const x = await transferUnderStats(ctx, ctx.c1.name, port, seconds);
  const byProgram: TracedTcpBpf['byProgram'] = {};
  for (const p of x.byProgram) if (p.runCnt) byProgram[p.name] = { runsPerS: p.runCnt / x.wallS, nsPerRun: p.nsPerHit };
  return { gbitPerS: x.gbitPerS, bpfCpuShare: x.bpfNs / x.cpuNs, bpfNsPerS: x.bpfNs / x.wallS, recordsPerS: x.records / x.wallS, byProgram };
}
