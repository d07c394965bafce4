// edt.ts - the EDT rate limit (DESIGN §3, §9): how close a limited container
// gets to its configured rate, and what one container saturating the path
// does to a neighbour's latency, with and without a limit.
//
// 1. Rates: iperf3 TCP c1 → target under limits of 10mbit, 100mbit, 1gbit,
//    interleaved repetitions (the rate order rotates). Each run attaches the
//    limit fresh, in process, as `macebpf limit` does (a Tracer without
//    the tracing programs), and removes it afterwards. Reported: receiver
//    goodput / configured rate, bytes passed by the EDT program (wire bytes,
//    headers included, what the limit meters) / configured rate, and the
//    limit's horizon drops per run.
// 2. Neighbour: ping c2 → target while (a) nothing else runs, (b) c1 runs an
//    unlimited iperf3 TCP flood, (c) c1 runs the same flood under a 100mbit
//    limit; conditions interleaved with rotating order. Each run pings twice:
//    paced (-i 0.002: idle gaps, so CPU wake-up latency is in the RTT) and
//    back to back (busy, the low-noise view DESIGN §9 recommends). Reported:
//    median and p99 RTT per repetition, and their differences to idle (and
//    limited − unlimited) within the same repetition.
//
// Where the kernel has sch_fq, fq is installed on c1's device for the limit
// (and removed after), as `macebpf limit` does; otherwise policing mode.
// Only the lab's namespaces are touched.
import type { LimitState } from '../src/core/limit-state';
import { defaultHorizonNs, installFq, kernelHasFq, type LimitMode } from '../src/host/qdisc';
import { Tracer } from '../src/host/tracer';
import { onShutdown } from '../src/commands/lifecycle';
import { parseRate } from '../src/core/units';
import { iperfClient, startIperfServer, type IperfResult, type IperfServer } from '../src/lab/traffic';
import { checkAborted, log, sleep, type BenchContext } from './context';
import { pingRtts } from './ping';
import { histogram, quantile, spread, summarize, type Spread, type Summary } from './stats';

export const EDT_RATES = ['10mbit', '100mbit', '1gbit'] as const;
export const NEIGHBOUR_LIMIT = '100mbit';

export interface EdtRateRep {
  rate: string;
  rep: number;
  /** iperf3 receiver goodput, bits/s */
  achievedBitsPerS: number;
  /** goodput / configured */
  ratio: number;
  /** bytes passed by the EDT program (wire bytes) per second of the transfer / configured */
  wireRatio: number;
  /** seconds of the transfer (iperf3 sender) */
  seconds: number;
  retransmits?: number;
  /** counters of the limit over the run */
  packets: number;
  delayed: number;
  drops: number;
  dropBytes: number;
}

export interface EdtRateSummary {
  rate: string;
  rateBitsPerS: number;
  horizonNs: number;
  achievedMbitPerS: Spread;
  ratio: Spread;
  wireRatio: Spread;
  drops: Spread;
  retransmits: Spread;
}

export type NeighbourCondition = 'idle' | 'flood' | 'flood-limited';
export const NEIGHBOUR_CONDITIONS: readonly NeighbourCondition[] = ['idle', 'flood', 'flood-limited'];
/** paced: the asked-for view (idle gaps between pings); back-to-back: busy traffic, lower noise (DESIGN §9) */
export type PingMode = 'paced' | 'back-to-back';
export const PING_MODES: readonly PingMode[] = ['paced', 'back-to-back'];

export interface NeighbourPings {
  sent: number;
  received: number;
  /** c2's RTTs in µs */
  rtt: Summary;
  p99Us: number;
  /** µs → count (ping prints whole µs below 1 ms) */
  histogramUs: Record<string, number>;
  elapsedMs: number;
}

export interface NeighbourRep {
  condition: NeighbourCondition;
  rep: number;
  pings: Record<PingMode, NeighbourPings>;
  /** c1's flood (flood conditions): iperf3 goodput, Mbit/s */
  floodMbitPerS?: number;
  floodRetransmits?: number;
  /** whether the flood was still running when the last ping reply came in */
  floodCoveredPings?: boolean;
  /** flood-limited: horizon drops of the limit over the run */
  limitDrops?: number;
}

export interface NeighbourCondSummary {
  condition: NeighbourCondition;
  medianUs: Spread;
  p99Us: Spread;
  lossFraction: Spread;
  /** per repetition: this condition − idle */
  vsIdle?: { medianDiffUs: Spread; p99DiffUs: Spread };
}

export interface NeighbourModeSummary {
  mode: PingMode;
  count: number;
  /** ping -i (0: back to back) */
  intervalS: number;
  conditions: NeighbourCondSummary[];
  /** per repetition: flood-limited − flood */
  limitedVsUnlimited?: { medianDiffUs: Spread; p99DiffUs: Spread };
}

export interface EdtResult {
  mode: LimitMode;
  rates: {
    seconds: number;
    reps: EdtRateRep[];
    summary: EdtRateSummary[];
  };
  neighbour: {
    limit: string;
    /** seconds the flood ran before the pings started */
    warmupS: number;
    floodSeconds: number;
    reps: NeighbourRep[];
    modes: NeighbourModeSummary[];
    /** c1's flood per condition: goodput (Mbit/s) and, limited, the limit's drops per run */
    flood: Partial<Record<NeighbourCondition, { mbitPerS: Spread; limitDrops?: Spread }>>;
  };
}

function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = k % xs.length;
  return [...xs.slice(n), ...xs.slice(0, n)];
}

interface LimitHandle {
  state(): LimitState;
}

/**
 * Runs fn with c1's egress limited to rate (fresh session, as `macebpf
 * limit`); the limit is removed afterwards, and on SIGINT/SIGTERM before the
 * lab goes.
 */
async function withLimit<T>(ctx: BenchContext, mode: LimitMode, rateBytesPerSec: number, fn: (h: LimitHandle) => Promise<T>): Promise<T> {
  checkAborted();
  const session = new Tracer({ tracing: false });
  let restoreFq: (() => void) | undefined;
  const cleanup = (): void => {
    void session.close();
    const r = restoreFq;
    restoreFq = undefined;
    r?.();
  };
  const unregister = onShutdown(cleanup);
  try {
    if (mode === 'fq') restoreFq = installFq(ctx.c1Ref, ctx.c1.dev);
    session.limit(ctx.c1Ref, ctx.c1.dev, rateBytesPerSec, defaultHorizonNs(mode, rateBytesPerSec), mode === 'fq');
    return await fn({ state: () => session.limitState(ctx.c1Ref.inode) });
  } finally {
    try {
      session.unlimit(ctx.c1Ref.inode);
    } catch {
      /* already closed by a shutdown */
    }
    unregister();
    cleanup();
  }
}

function tcpSent(res: IperfResult): { seconds?: number; retransmits?: number } {
  return (res.json as { end?: { sum_sent?: { seconds?: number; retransmits?: number } } }).end?.sum_sent ?? {};
}

function diffSpread<K>(reps: K[], pick: (k: K) => [number, number] | undefined): Spread {
  const d: number[] = [];
  for (const k of reps) {
    const p = pick(k);
    if (p) d.push(p[1] - p[0]);
  }
  return spread(d);
}

export async function runEdt(ctx: BenchContext): Promise<EdtResult> {
  const mode: LimitMode = kernelHasFq() ? 'fq' : 'police';
  log(`edt: mode ${mode}${mode === 'police' ? ' (this kernel has no sch_fq: packets beyond the horizon are dropped, not paced)' : ' (fq paces by departure time)'}`);
  const target = ctx.lab.target.ip4;

  const rateReps = ctx.quick ? 2 : 3;
  const seconds = ctx.quick ? 3 : 5;
  const nbReps = ctx.quick ? 3 : 5;
  const pacedCount = ctx.quick ? 500 : 1000;
  const intervalS = 0.002;
  const b2bCount = ctx.quick ? 5000 : 20000;
  const warmupS = 0.5;
  // The flood must outlast both ping runs: count × interval for the paced one
  // (longer on a loaded VM), at most ~60 µs per round trip back to back.
  const floodSeconds = Math.ceil(warmupS + pacedCount * intervalS * 1.25 + b2bCount * 60e-6 + 0.5);

  let server: IperfServer | undefined;
  const rateReps_: EdtRateRep[] = [];
  const nb: NeighbourRep[] = [];
  try {
    server = await startIperfServer(ctx.lab.target.name, { port: 5201 });
    const port = server.port;

    // --- 1. achieved / configured ---
    log(`edt: rates ${EDT_RATES.join(', ')}, ${rateReps} interleaved reps × ${seconds} s iperf3 TCP c1 → target`);
    for (let rep = 0; rep < rateReps; rep++) {
      for (const rate of rotate(EDT_RATES, rep)) {
        const bps = parseRate(rate);
        const row = await withLimit(ctx, mode, bps, async (h) => {
          const s0 = h.state();
          const res = await iperfClient(ctx.c1.name, target, { seconds, port });
          const s1 = h.state();
          const sent = tcpSent(res);
          const secs = sent.seconds ?? seconds;
          const r: EdtRateRep = {
            rate,
            rep,
            achievedBitsPerS: res.bitsPerSecond,
            ratio: res.bitsPerSecond / (bps * 8),
            wireRatio: (s1.bytes - s0.bytes) / secs / bps,
            seconds: secs,
            packets: s1.packets - s0.packets,
            delayed: s1.delayed - s0.delayed,
            drops: s1.drops - s0.drops,
            dropBytes: s1.dropBytes - s0.dropBytes,
          };
          if (sent.retransmits !== undefined) r.retransmits = sent.retransmits;
          return r;
        });
        rateReps_.push(row);
      }
      log(
        `edt: rates rep ${rep + 1}: ${rateReps_
          .filter((r) => r.rep === rep)
          .map((r) => `${r.rate} ${(r.achievedBitsPerS / 1e6).toFixed(1)} Mbit/s (×${r.ratio.toFixed(3)}, ${r.drops} drops)`)
          .join(', ')}`,
      );
    }

    // --- 2. neighbour latency ---
    log(
      `edt: neighbour c2 → target, ${nbReps} interleaved reps × (${pacedCount} pings -i ${intervalS} + ${b2bCount} back to back): idle / c1 flood / c1 flood limited to ${NEIGHBOUR_LIMIT}`,
    );
    const limitBps = parseRate(NEIGHBOUR_LIMIT);
    const pingSet = async (mode: PingMode): Promise<NeighbourPings> => {
      const p = mode === 'paced' ? await pingRtts(ctx.c2.name, target, pacedCount, intervalS) : await pingRtts(ctx.c2.name, target, b2bCount, 0);
      const xs = [...p.rttUs.values()];
      return { sent: p.sent, received: p.received, rtt: summarize(xs), p99Us: quantile(xs, 0.99), histogramUs: histogram(xs, 1), elapsedMs: p.elapsedMs };
    };
    const measure = async (condition: NeighbourCondition, rep: number, limit?: LimitHandle): Promise<NeighbourRep> => {
      checkAborted();
      await pingRtts(ctx.c2.name, target, 50, intervalS); // warm-up (ARP, caches)
      let flood: Promise<{ res: IperfResult; end: number }> | undefined;
      const s0 = limit?.state();
      if (condition !== 'idle') {
        flood = iperfClient(ctx.c1.name, target, { seconds: floodSeconds, port }).then((res) => ({ res, end: performance.now() }));
        flood.catch(() => undefined); // awaited below; not unhandled meanwhile
        await sleep(warmupS * 1000);
      }
      let pings: Record<PingMode, NeighbourPings>;
      try {
        pings = { paced: await pingSet('paced'), 'back-to-back': await pingSet('back-to-back') };
      } catch (e) {
        await flood?.catch(() => undefined); // let the flood end before the next run needs the server
        throw e;
      }
      const pingEnd = performance.now();
      const row: NeighbourRep = { condition, rep, pings };
      if (flood) {
        const f = await flood;
        row.floodMbitPerS = f.res.bitsPerSecond / 1e6;
        const rt = tcpSent(f.res).retransmits;
        if (rt !== undefined) row.floodRetransmits = rt;
        row.floodCoveredPings = f.end > pingEnd;
        if (!row.floodCoveredPings) log(`edt: warning: c1's flood ended before c2's pings (${condition}, rep ${rep + 1})`);
      }
      if (limit && s0) row.limitDrops = limit.state().drops - s0.drops;
      return row;
    };
    for (let rep = 0; rep < nbReps; rep++) {
      for (const c of rotate(NEIGHBOUR_CONDITIONS, rep)) {
        nb.push(c === 'flood-limited' ? await withLimit(ctx, mode, limitBps, (h) => measure(c, rep, h)) : await measure(c, rep));
      }
      log(
        `edt: neighbour rep ${rep + 1}: ${nb
          .filter((r) => r.rep === rep)
          .map(
            (r) =>
              `${r.condition} ${PING_MODES.map((m) => `${m} ${r.pings[m].rtt.median.toFixed(0)}/${r.pings[m].p99Us.toFixed(0)}`).join(' ')} µs` +
              (r.floodMbitPerS !== undefined ? ` (c1 ${r.floodMbitPerS.toFixed(0)} Mbit/s)` : ''),
          )
          .join('; ')} (median/p99)`,
      );
    }
  } finally {
    await server?.stop();
  }

  const summary: EdtRateSummary[] = EDT_RATES.map((rate) => {
    const rs = rateReps_.filter((r) => r.rate === rate);
    const bps = parseRate(rate);
    return {
      rate,
      rateBitsPerS: bps * 8,
      horizonNs: defaultHorizonNs(mode, bps),
      achievedMbitPerS: spread(rs.map((r) => r.achievedBitsPerS / 1e6)),
      ratio: spread(rs.map((r) => r.ratio)),
      wireRatio: spread(rs.map((r) => r.wireRatio)),
      drops: spread(rs.map((r) => r.drops)),
      retransmits: spread(rs.map((r) => r.retransmits ?? NaN)),
    };
  });

  const repIds = [...new Set(nb.map((r) => r.rep))];
  const find = (c: NeighbourCondition, k: number): NeighbourRep | undefined => nb.find((r) => r.rep === k && r.condition === c);
  const pair =
    (a: NeighbourCondition, b: NeighbourCondition, f: (r: NeighbourRep) => number) =>
    (k: number): [number, number] | undefined => {
      const x = find(a, k);
      const y = find(b, k);
      return x && y ? [f(x), f(y)] : undefined;
    };
  const modes: NeighbourModeSummary[] = PING_MODES.map((m) => {
    const med = (r: NeighbourRep): number => r.pings[m].rtt.median;
    const p99 = (r: NeighbourRep): number => r.pings[m].p99Us;
    const conditions: NeighbourCondSummary[] = [];
    for (const c of NEIGHBOUR_CONDITIONS) {
      const rs = nb.filter((r) => r.condition === c);
      if (!rs.length) continue;
      const s: NeighbourCondSummary = {
        condition: c,
        medianUs: spread(rs.map(med)),
        p99Us: spread(rs.map(p99)),
        lossFraction: spread(rs.map((r) => (r.pings[m].sent ? 1 - r.pings[m].received / r.pings[m].sent : NaN))),
      };
      if (c !== 'idle') s.vsIdle = { medianDiffUs: diffSpread(repIds, pair('idle', c, med)), p99DiffUs: diffSpread(repIds, pair('idle', c, p99)) };
      conditions.push(s);
    }
    const out: NeighbourModeSummary = { mode: m, count: m === 'paced' ? pacedCount : b2bCount, intervalS: m === 'paced' ? intervalS : 0, conditions };
    if (repIds.length) {
      out.limitedVsUnlimited = { medianDiffUs: diffSpread(repIds, pair('flood', 'flood-limited', med)), p99DiffUs: diffSpread(repIds, pair('flood', 'flood-limited', p99)) };
    }
    return out;
  });
  const flood: EdtResult['neighbour']['flood'] = {};
  for (const c of ['flood', 'flood-limited'] as const) {
    const rs = nb.filter((r) => r.condition === c);
    if (!rs.length) continue;
    flood[c] = { mbitPerS: spread(rs.map((r) => r.floodMbitPerS ?? NaN)) };
    if (c === 'flood-limited') flood[c]!.limitDrops = spread(rs.map((r) => r.limitDrops ?? NaN));
  }

  return {
    mode,
    rates: { seconds, reps: rateReps_, summary },
    neighbour: { limit: NEIGHBOUR_LIMIT, warmupS, floodSeconds, reps: nb, modes, flood },
  };
}
