// cost.ts - BPF cost per packet (DESIGN §9, "the lowest-noise perturbation
// figure"): kernel.bpf_stats_enabled=1, run_time_ns / run_cnt per program
// while c1 pings the target back to back. Side by side, interleaved:
// macebpf (all stages), macebpf without the socket stage, macebpf whose BPF
// side never forces a ring-buffer wake-up (how much the per-batch wake-ups
// cost), macebpf with the ingress device stages on every device's
// netif_receive_skb (the fallback without tcx), the bpftrace peer
// (bench/bpftrace.ts), measured the same way, and an empty program on
// net_dev_start_xmit: what the run accounting itself adds to every run.
//
// Attribution: the syscall hooks (and, much less, the device hooks) also fire
// for everything else on the machine. Each repetition therefore has a ping
// window and an idle window of the same length right after it; the idle
// window's counts, scaled to the ping window's length, are subtracted before
// dividing by the number of round trips.
import { progStats, type ProgStat, enableStats } from './bpfstats';
import { bpftraceScript, startBpftrace, type BpftraceRun } from './bpftrace';
import { aborted, log, sleep, startTracing, type BenchContext, type Tracing } from './context';
import { pingQuiet } from './ping';
import { spread, sum, type Spread } from './stats';
import type { TracerOptions } from '../src/host/tracer';

/** Where the ingress device stages run with tcx (docs/measurement.md): c1's device and the outer device only. */
const TCX_INGRESS = 'tcx ingress (c1 and outer devices)';

export type CostCondition = 'macebpf' | 'macebpf-no-sockets' | 'macebpf-lazy-wakeup' | 'macebpf-rx-tracepoint' | 'bpftrace' | 'empty-program';
/** The conditions in report order; each repetition runs them in this order or reversed. */
const CONDITIONS: readonly CostCondition[] = ['macebpf', 'macebpf-no-sockets', 'macebpf-lazy-wakeup', 'macebpf-rx-tracepoint', 'bpftrace', 'empty-program'];

/** The 'empty-program' condition: a program that does nothing, so that its run
 * time per hit is the kernel's run accounting (two clock reads and the
 * statistics update around every run while bpf_stats is on) plus the call. */
const EMPTY_SCRIPT = 'tracepoint:net:net_dev_start_xmit { }\n';

/** wakeupRecords for 'macebpf-lazy-wakeup': the BPF side never forces a wake-up; the poller's 50 ms drain collects. */
export const LAZY_WAKEUP_RECORDS = 65536;

/** Tracer options of the macebpf conditions: rx-tracepoint takes the ingress device stages' fallback (netif_receive_skb on every device) on this kernel. */
const CONDITION_OPTIONS: Record<Exclude<CostCondition, 'bpftrace' | 'empty-program'>, TracerOptions> = {
  macebpf: {},
  'macebpf-no-sockets': { sockets: false },
  'macebpf-lazy-wakeup': { wakeupRecords: LAZY_WAKEUP_RECORDS },
  'macebpf-rx-tracepoint': { disable: ['tcx'] },
};

/** The hook each macebpf program is attached to (tp_btf, tcx, cgroup; bpftool does not say). */
const MB_TRACEPOINT: Record<string, string> = {
  mb_dev_xmit: 'net_dev_start_xmit',
  mb_dev_rx: 'netif_receive_skb',
  mb_tc_rx: TCX_INGRESS,
  mb_sock_recv: 'skb_copy_datagram_iovec',
  mb_tcp_send: 'tcp_sendmsg_locked',
  mb_udp_recv: 'sock_recv_length',
  mb_cg_egress: 'cgroup_skb/egress (c1 only)',
  mb_drop: 'kfree_skb',
};
export const DEVICE_TRACEPOINTS = new Set(['net_dev_start_xmit', 'netif_receive_skb', TCX_INGRESS]);

/** What each bpftrace probe does, in script order (bench/bpftrace.ts). */
const BT_ROLES = ['container dev: store', 'outer dev: match', 'outer dev: store', 'container dev: match'];

export interface ProgCost {
  /** program name (macebpf) or tracepoint#k (bpftrace) */
  key: string;
  tracepoint: string;
  /** ping window */
  runTimeNs: number;
  runCnt: number;
  /** idle window of the same length right after, scaled to the ping window */
  idleRunTimeNs: number;
  idleRunCnt: number;
  /** run_time_ns / run_cnt in the ping window */
  nsPerHit: number;
  /** (ping − idle) run_cnt / round trips */
  hitsPerRoundTrip: number;
  /** (ping − idle) run_time_ns / round trips */
  nsPerRoundTrip: number;
}

export interface CostRep {
  condition: CostCondition;
  rep: number;
  pings: number;
  received: number;
  windowMs: number;
  idleMs: number;
  progs: ProgCost[];
  /** Σ run_time / Σ run_cnt over the programs on the device tracepoints (per program run) */
  nsPerDeviceProgRun: number;
  /** Σ run_time on the device tracepoints / tracepoint hits (a hit runs every program attached there) */
  nsPerDeviceHookHit: number;
  /** Σ over all programs of (ping − idle) run time / round trips */
  nsPerRoundTrip: number;
  /** the same, device tracepoints only */
  nsPerRoundTripDevice: number;
}

export interface CostCondSummary {
  condition: CostCondition;
  /** per program key: ns per hit, hits per round trip, ns per round trip (median and range over reps) */
  progs: Record<string, { tracepoint: string; nsPerHit: Spread; hitsPerRoundTrip: Spread; nsPerRoundTrip: Spread }>;
  nsPerDeviceProgRun: Spread;
  nsPerDeviceHookHit: Spread;
  nsPerRoundTrip: Spread;
  nsPerRoundTripDevice: Spread;
}

export interface CostResult {
  method: string;
  pingsPerRep: number;
  reps: CostRep[];
  summary: CostCondSummary[];
  /** macebpf / bpftrace, medians of the summaries (absent when bpftrace did not run) */
  ratios?: {
    deviceHookHit: number;
    roundTripDevice: number;
    roundTripAll: number;
    roundTripAllNoSockets: number;
  };
  bpftraceError?: string;
  /** run time per hit of the empty program (median): what bpf_stats adds to every program run */
  accountingNsPerRun?: number;
  bpftraceScript: string;
  statsPrevious: number;
}

function measure(
  before: Map<number, ProgStat>,
  mid: Map<number, ProgStat>,
  after: Map<number, ProgStat>,
  ids: number[],
  keys: string[],
  tps: string[],
  windowMs: number,
  idleMs: number,
  roundTrips: number,
): ProgCost[] {
  const scale = idleMs > 0 ? windowMs / idleMs : 0;
  return ids.map((id, k) => {
    const b = before.get(id);
    const m = mid.get(id);
    const a = after.get(id);
    if (!b || !m || !a) throw new Error(`BPF program ${id} (${keys[k]}) disappeared during the measurement`);
    const runTimeNs = m.runTimeNs - b.runTimeNs;
    const runCnt = m.runCnt - b.runCnt;
    const idleRunTimeNs = (a.runTimeNs - m.runTimeNs) * scale;
    const idleRunCnt = (a.runCnt - m.runCnt) * scale;
    return {
      key: keys[k]!,
      tracepoint: tps[k]!,
      runTimeNs,
      runCnt,
      idleRunTimeNs,
      idleRunCnt,
      nsPerHit: runCnt > 0 ? runTimeNs / runCnt : NaN,
      hitsPerRoundTrip: Math.max(0, runCnt - idleRunCnt) / roundTrips,
      nsPerRoundTrip: Math.max(0, runTimeNs - idleRunTimeNs) / roundTrips,
    };
  });
}

function aggregate(progs: ProgCost[]): Pick<CostRep, 'nsPerDeviceProgRun' | 'nsPerDeviceHookHit' | 'nsPerRoundTrip' | 'nsPerRoundTripDevice'> {
  const dev = progs.filter((p) => DEVICE_TRACEPOINTS.has(p.tracepoint));
  const devTime = sum(dev.map((p) => p.runTimeNs));
  const devRuns = sum(dev.map((p) => p.runCnt));
  // hits of a tracepoint = runs of any one program attached to it (each runs on every hit)
  const hits = new Map<string, number>();
  for (const p of dev) hits.set(p.tracepoint, Math.max(hits.get(p.tracepoint) ?? 0, p.runCnt));
  const devHits = sum([...hits.values()]);
  return {
    nsPerDeviceProgRun: devRuns > 0 ? devTime / devRuns : NaN,
    nsPerDeviceHookHit: devHits > 0 ? devTime / devHits : NaN,
    nsPerRoundTrip: sum(progs.map((p) => p.nsPerRoundTrip)),
    nsPerRoundTripDevice: sum(dev.map((p) => p.nsPerRoundTrip)),
  };
}

function summarizeCondition(condition: CostCondition, reps: CostRep[]): CostCondSummary {
  const mine = reps.filter((r) => r.condition === condition);
  // programs that never ran in any repetition (e.g. a tc program that is loaded but not attached) are left out
  const keys = [...new Set(mine.flatMap((r) => r.progs.filter((p) => p.runCnt > 0).map((p) => p.key)))];
  const progs: CostCondSummary['progs'] = {};
  for (const key of keys) {
    const ps = mine.flatMap((r) => r.progs.filter((p) => p.key === key));
    progs[key] = {
      tracepoint: ps[0]!.tracepoint,
      nsPerHit: spread(ps.map((p) => p.nsPerHit)),
      hitsPerRoundTrip: spread(ps.map((p) => p.hitsPerRoundTrip)),
      nsPerRoundTrip: spread(ps.map((p) => p.nsPerRoundTrip)),
    };
  }
  return {
    condition,
    progs,
    nsPerDeviceProgRun: spread(mine.map((r) => r.nsPerDeviceProgRun)),
    nsPerDeviceHookHit: spread(mine.map((r) => r.nsPerDeviceHookHit)),
    nsPerRoundTrip: spread(mine.map((r) => r.nsPerRoundTrip)),
    nsPerRoundTripDevice: spread(mine.map((r) => r.nsPerRoundTripDevice)),
  };
}

export async function runCost(ctx: BenchContext): Promise<CostResult> {
  const reps = ctx.quick ? 2 : 3;
  const pings = ctx.quick ? 5000 : 10000;
  const script = bpftraceScript(ctx.c1.dev, ctx.outer.name);
  const target = ctx.lab.target.ip4;
  const out: CostRep[] = [];
  let bpftraceError: string | undefined;
  const stats = enableStats();
  log(`cost: kernel.bpf_stats_enabled 0→1 (was ${stats.previous}); ${reps} reps × ${pings} back-to-back pings per condition`);
  try {
    for (let rep = 0; rep < reps; rep++) {
      const order = rep % 2 === 1 ? [...CONDITIONS].reverse() : CONDITIONS;
      for (const condition of order) {
        const viaBpftrace = condition === 'bpftrace' || condition === 'empty-program';
        if (viaBpftrace && bpftraceError !== undefined) continue;
        let tracing: Tracing | undefined;
        let bt: BpftraceRun | undefined;
        try {
          let ids: number[];
          let keys: string[];
          let tps: string[];
          if (viaBpftrace) {
            const empty = condition === 'empty-program';
            try {
              bt = empty ? await startBpftrace(EMPTY_SCRIPT, 1) : await startBpftrace(script, 4);
            } catch (e) {
              if (aborted()) throw e;
              bpftraceError = (e as Error).message;
              log(`cost: bpftrace cannot run: ${bpftraceError}`);
              continue;
            }
            ids = bt.progIds;
            tps = bt.tracepoints;
            keys = bt.tracepoints.map((tp, k) => `${tp} (${empty ? 'empty' : BT_ROLES[k] ?? `probe ${k + 1}`})`);
          } else {
            tracing = await startTracing(ctx, CONDITION_OPTIONS[condition]);
            const all = await progStats();
            ids = tracing.progIds;
            keys = ids.map((id) => all.get(id)?.name ?? String(id));
            tps = keys.map((k) => MB_TRACEPOINT[k] ?? k);
          }
          await pingQuiet(ctx.c1.name, target, 200); // warm-up: caches, conntrack, map entries
          const s0 = await progStats();
          const t0 = performance.now();
          const p = await pingQuiet(ctx.c1.name, target, pings);
          const s1 = await progStats();
          const windowMs = performance.now() - t0;
          const t1 = performance.now();
          await sleep(windowMs);
          const s2 = await progStats();
          const idleMs = performance.now() - t1;
          if (p.received === 0) throw new Error(`no ping replies from ${target} (${condition}, rep ${rep + 1})`);
          const progs = measure(s0, s1, s2, ids, keys, tps, windowMs, idleMs, p.received);
          const rep1: CostRep = { condition, rep, pings: p.transmitted, received: p.received, windowMs, idleMs, progs, ...aggregate(progs) };
          out.push(rep1);
          log(`cost: ${condition} rep ${rep + 1}: ${rep1.nsPerDeviceHookHit.toFixed(0)} ns per device hook hit, ${rep1.nsPerRoundTrip.toFixed(0)} ns per round trip`);
        } finally {
          tracing?.close();
          if (bt) await bt.stop();
        }
      }
    }
  } finally {
    stats.restore();
    log(`cost: kernel.bpf_stats_enabled restored to ${stats.previous}`);
  }
  const summary = CONDITIONS.filter((c) => out.some((r) => r.condition === c)).map((c) => summarizeCondition(c, out));
  const by = (c: CostCondition): CostCondSummary | undefined => summary.find((s) => s.condition === c);
  const mb = by('macebpf');
  const mbn = by('macebpf-no-sockets');
  const bt = by('bpftrace');
  const result: CostResult = {
    method:
      'kernel.bpf_stats_enabled=1; per program Δrun_time_ns/Δrun_cnt over a window of back-to-back pings (c1 → target through veth, bridge, NAT, outer veth); per round trip: (ping window − equally long idle window) / replies',
    pingsPerRep: pings,
    reps: out,
    summary,
    bpftraceScript: script,
    statsPrevious: stats.previous,
  };
  if (bpftraceError !== undefined) result.bpftraceError = bpftraceError;
  const empty = by('empty-program');
  if (empty) result.accountingNsPerRun = Object.values(empty.progs)[0]?.nsPerHit.median;
  if (mb && bt) {
    result.ratios = {
      deviceHookHit: mb.nsPerDeviceHookHit.median / bt.nsPerDeviceHookHit.median,
      roundTripDevice: mb.nsPerRoundTripDevice.median / bt.nsPerRoundTripDevice.median,
      roundTripAll: mb.nsPerRoundTrip.median / bt.nsPerRoundTrip.median,
      roundTripAllNoSockets: (mbn?.nsPerRoundTrip.median ?? NaN) / bt.nsPerRoundTrip.median,
    };
  }
  return result;
}
