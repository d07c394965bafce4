// tax.ts - what tracing costs what is NOT traced (issue: near-zero
// perturbation): a syscall-heavy process in the root namespace (`dd bs=1`),
// an untraced container's TCP throughput, and the BPF time and map writes
// of an untraced container's packets through the outer device. Off and on
// interleaved, macebpf loaded fresh each time and tracing c1 (the default
// socket stage on).
import { spawnSync } from 'node:child_process';
import { iperfClient, startIperfServer } from '../src/lab/traffic';
import { log, sleep, startTracing, type BenchContext, type Tracing } from './context';
import { pingRtts } from './ping';
import { spread, type Spread } from './stats';
import { transferUnderStats, underStats } from './under-stats';

export interface TaxResult {
  dd: {
    bytes: number;
    offS: Spread;
    onS: Spread;
    ratio: Spread;
    /** macebpf's programs during one more traced dd (BPF stats on): runs, run time, and which programs ran */
    traced: { hits: number; bpfNs: number; programs: Record<string, number> };
  };
  untracedTcp: {
    seconds: number;
    offGbit: Spread;
    onGbit: Spread;
    ratio: Spread;
    /** BPF run time of macebpf's programs over the busy CPU time of the host during a traced transfer: the tax's CPU share, free of throughput noise */
    bpfCpuShare: number;
    /** macebpf program hits per second of that transfer */
    hitsPerS: number;
    /** busy CPU ns (all CPUs) per second of that transfer */
    busyCpuNsPerS: number;
  };
  /** c1 (traced) sends nothing */
  outerUntraced: OuterUntraced;
  /** c1 (traced) pings every 0.2 s meanwhile */
  outerUntracedBeside: OuterUntraced;
}

export interface OuterUntraced {
  packets: number;
  bpfNsPerPacket: number;
  /** BPF ns per packet by program */
  byProgram: Record<string, number>;
  hits: number;
  entriesCreated: number;
  unmatchedCounted: number;
  tracedCounterChanges: number;
  /** round trips of the traced container meanwhile (their BPF time is included) */
  tracedRoundTrips: number;
}

const DD_BYTES = 2_000_000;

function ddSeconds(): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('dd', ['if=/dev/zero', 'of=/dev/null', 'bs=1', `count=${DD_BYTES}`], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`dd exited with ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function interleaved<T>(ctx: BenchContext, reps: number, fn: () => Promise<T>): Promise<{ off: T[]; on: T[] }> {
  const off: T[] = [];
  const on: T[] = [];
  for (let rep = 0; rep < reps; rep++) {
    for (const tracing of rep % 2 ? [true, false] : [false, true]) {
      let t: Tracing | undefined;
      try {
        if (tracing) t = await startTracing(ctx);
        (tracing ? on : off).push(await fn());
      } finally {
        t?.close();
      }
    }
  }
  return { off, on };
}

const ratioOf = (on: number[], off: number[]): Spread => spread(on.map((x, i) => x / off[i]));

export async function runTax(ctx: BenchContext): Promise<TaxResult> {
  const reps = ctx.quick ? 3 : 6;
  // dd's time varies by ±10% from run to run here: more repetitions, and
  // the programs' own runs during a traced dd, which do not vary.
  const ddReps = ctx.quick ? 3 : 20;
  log(`tax: dd bs=1 count=${DD_BYTES} in the root namespace, ${ddReps} interleaved reps off/on`);
  const dd = await interleaved(ctx, ddReps, async () => ddSeconds());
  const tracedDd = await underStats(ctx, async () => ddSeconds());
  const programs: Record<string, number> = {};
  for (const x of tracedDd.byProgram) if (x.runCnt) programs[x.name] = (programs[x.name] ?? 0) + x.runCnt;
  const ddTraced = { hits: tracedDd.hits, bpfNs: tracedDd.bpfNs, programs };
  log(`tax: dd off ${spread(dd.off).median.toFixed(3)} s, on ${spread(dd.on).median.toFixed(3)} s; a traced dd ran macebpf's programs ${ddTraced.hits} times (${JSON.stringify(ddTraced.programs)})`);

  const seconds = ctx.quick ? 2 : 3;
  const server = await startIperfServer(ctx.lab.target.name, { port: 5801 });
  let tcp: { off: number[]; on: number[] };
  let share: { bpfCpuShare: number; hitsPerS: number; busyCpuNsPerS: number };
  try {
    log(`tax: TCP of the untraced container ${ctx.c2.name}, ${reps} interleaved reps × ${seconds} s`);
    tcp = await interleaved(ctx, reps, async () => (await iperfClient(ctx.c2.name, ctx.lab.target.ip4, { seconds, port: 5801 })).bitsPerSecond / 1e9);
    // Throughput varies ±15% from run to run here; the CPU share of the BPF
    // programs in one traced transfer is what tracing can take from it.
    const traced = await transferUnderStats(ctx, ctx.c2.name, 5801, seconds);
    share = { bpfCpuShare: traced.bpfNs / traced.cpuNs, hitsPerS: traced.hits / traced.wallS, busyCpuNsPerS: traced.cpuNs / traced.wallS };
  } finally {
    await server.stop();
  }
  log(`tax: untraced TCP on/off ${ratioOf(tcp.on, tcp.off).median.toFixed(3)}, BPF share of the busy CPU ${(100 * share.bpfCpuShare).toFixed(2)}% (${Math.round(share.hitsPerS)} hits/s)`);

  const outer = await outerUntraced(ctx, false);
  log(`tax: untraced outer traffic ${outer.bpfNsPerPacket.toFixed(0)} BPF ns/packet, entries ${outer.entriesCreated}, unmatched ${outer.unmatchedCounted}`);
  const outerBeside = await outerUntraced(ctx, true);
  log(`tax: untraced outer traffic while c1 sends ${outerBeside.bpfNsPerPacket.toFixed(0)} BPF ns/packet, entries ${outerBeside.entriesCreated}, unmatched ${outerBeside.unmatchedCounted}, c1 round trips ${outerBeside.tracedRoundTrips}`);
  return {
    dd: { bytes: DD_BYTES, offS: spread(dd.off), onS: spread(dd.on), ratio: ratioOf(dd.on, dd.off), traced: ddTraced },
    untracedTcp: { seconds, offGbit: spread(tcp.off), onGbit: spread(tcp.on), ratio: ratioOf(tcp.on, tcp.off), ...share },
    outerUntraced: outer,
    outerUntracedBeside: outerBeside,
  };
}

/**
 * Untraced packets (c2's back-to-back pings) through the outer device: BPF
 * time of every mb_* hook they cross, and whether anything was written
 * (counters are the maps' witnesses: entries created and unmatched of no
 * container but c1's replies', and c1's counters). tracedSends: c1 (traced) pings every 0.2 s
 * meanwhile, so the outer device's egress stage has entries to look for;
 * its own few round trips are in the BPF time (tracedRoundTrips).
 */
async function outerUntraced(ctx: BenchContext, tracedSends: boolean): Promise<OuterUntraced> {
  const run = await underStats(ctx, async (t) => {
    const c1 = t.index.get(ctx.c1.name)!;
    const zeroBefore = t.session.tracer.counters(0);
    const c1Before = t.session.tracer.counters(c1);
    const beside = tracedSends ? pingRtts(ctx.c1.name, ctx.lab.target.ip4, 20, 0.2) : undefined;
    if (beside) await sleep(300); // c1's first round trips start entries
    const p = await pingRtts(ctx.c2.name, ctx.lab.target.ip4, ctx.quick ? 2000 : 10000, 0);
    const zeroAfter = t.session.tracer.counters(0);
    const c1After = t.session.tracer.counters(c1);
    const c1Trips = beside ? (await beside).received : 0;
    // c1's replies start their entries at the outer device before their
    // container is known (counted under no container), one per record.
    const c1Replies = c1After.ingress.events - c1Before.ingress.events;
    return {
      packets: p.sent + p.received, // each crosses the outer device once
      entriesCreated: zeroAfter.ingress.created - zeroBefore.ingress.created + zeroAfter.egress.created - zeroBefore.egress.created - c1Replies,
      unmatchedCounted: zeroAfter.ingress.unmatched - zeroBefore.ingress.unmatched + zeroAfter.egress.unmatched - zeroBefore.egress.unmatched,
      tracedCounterChanges: JSON.stringify(c1After) === JSON.stringify(c1Before) ? 0 : 1,
      tracedRoundTrips: c1Trips,
    };
  });
  const byProgram: Record<string, number> = {};
  for (const x of run.byProgram) if (x.runCnt) byProgram[x.name] = (byProgram[x.name] ?? 0) + x.runTimeNs / run.result.packets;
  return { ...run.result, bpfNsPerPacket: run.bpfNs / run.result.packets, hits: run.hits, byProgram };
}
