// accuracy.ts - MACE's evaluation redone with an independent ground truth
// (issue 8): the wire. Per echo of a ping from c1, corrected RTT (core's
// EchoJoin, as `macebpf ping`) against the RTT a packet capture sees on the
// outer device (request out → reply in; bench/wire.ts). Scenarios: idle,
// paced (10 ms) and back-to-back pings, each with 0, 1 and 3 neighbour
// containers flood-pinging the target (MACE's worst case), in interleaved
// repetitions. Also MACE's perturbation figure: ping's RTT with and without
// tracing, per number of flooding neighbours.
import { parsePingLine } from '../src/core/ping-output';
import { DIRECTIONS, type RecordColumns } from '../src/core/records';
import { EchoJoin } from '../src/core/rtt-join';
import { Tracing } from '../src/host/tracing';
import { nsExec } from '../src/lab/exec';
import { checkAborted, log, sleep, type BenchContext } from './context';
import { pingFlood } from './ping';
import { quantile, spread, type Spread } from './stats';
import { captureEchoes, MARK } from './wire';

const ICMP = 1;

export type PingMode = 'idle' | 'paced' | 'back-to-back';
const MODES: ReadonlyArray<{ mode: PingMode; count: number; quickCount: number; intervalS: number }> = [
  { mode: 'idle', count: 40, quickCount: 20, intervalS: 0.1 },
  { mode: 'paced', count: 300, quickCount: 150, intervalS: 0.01 },
  { mode: 'back-to-back', count: 2000, quickCount: 1000, intervalS: 0 },
];
const NEIGHBOURS = [0, 1, 3] as const;

/** One ping run: per echo, µs. */
interface Run {
  traced: boolean;
  sent: number;
  replies: number;
  wireMatched: number;
  joined: number;
  rawUs: number[];
  wireUs: number[]; // same echoes as rawUs where the capture has them (NaN otherwise)
  errorUs: number[]; // corrected − wire, joined echoes with a wire RTT
  outerMinusWireUs: number[]; // the kernel's outer-device RTT − the capture's
  rawMinusWireUs: number[];
  captureDropped: number;
}

export interface AccuracyScenario {
  mode: PingMode;
  neighbours: number;
  count: number;
  intervalS: number;
  /** echoes joined with both records, over replies (median over reps) */
  matched: Spread;
  /** raw − wire, µs: the bias the correction removes (pooled median) */
  rawMinusWireUs: number;
  /** the kernel's outer-device RTT − the capture's, µs (pooled median): how far the two clocks' views of the wire agree */
  outerMinusWireUs: number;
  /** corrected − wire, µs, pooled over reps */
  errorUs: { median: number; absP50: number; absP90: number; absP99: number; absMax: number; n: number };
  /** perturbation: traced − untraced raw RTT, per rep, µs */
  tracingAddsMedianUs: Spread;
  tracingAddsP99Us: Spread;
  untracedRawUs: { p50: number; p99: number };
  tracedRawUs: { p50: number; p99: number };
}

export interface AccuracyResult {
  reps: number;
  scenarios: AccuracyScenario[];
  /** goals of issue 8: |error| p99 ≤ 5 µs idle, ≤ 10 µs with flooding neighbours */
  goals: { idleP99Us: number; floodP99Us: number };
}

async function pingRun(ctx: BenchContext, tracing: Tracing | undefined, index: number, count: number, intervalS: number): Promise<Run> {
  const join = tracing ? new EchoJoin(tracing.store.baseNs) : undefined;
  const listener = (cols: RecordColumns, t: Float64Array): void => {
    for (let i = 0; i < cols.length; i++) {
      if (cols.container[i] !== index || cols.proto[i] !== ICMP) continue;
      join!.record(DIRECTIONS[cols.dir[i]!], cols.packetId[i]!, { t: t[i]!, total: cols.totalNs[i]!, stack: cols.stackNs[i]!, virt: cols.virtNs[i]! });
    }
  };
  tracing?.on('records', listener);
  const capture = await captureEchoes(ctx.lab.host.name, ctx.lab.host.uplink, ctx.lab.target.name, ctx.lab.target.dev);
  let stdout = '';
  let wire: Awaited<ReturnType<typeof capture.stop>>;
  try {
    const args = ['-D', '-n', '-p', MARK.toString(16).repeat(2), '-c', String(count), '-i', String(intervalS), '-W', '1', ctx.lab.target.ip4];
    ({ stdout } = await nsExec(ctx.c1.name, 'ping', args, { timeoutMs: (count * intervalS + 20) * 1000, okCodes: [1] }));
  } finally {
    wire = await capture.stop();
    await sleep(150); // the poller hands over at least every 50 ms
    tracing?.off('records', listener);
  }
  const replies = stdout.split('\n').map(parsePingLine).filter((r) => r !== undefined && !r.dup);
  for (const r of replies) join?.reply(r!, 0);
  const echoes = new Map((join?.flush() ?? []).map((e) => [e.seq, e]));
  const run: Run = { traced: !!tracing, sent: count, replies: replies.length, wireMatched: 0, joined: 0, rawUs: [], wireUs: [], errorUs: [], outerMinusWireUs: [], rawMinusWireUs: [], captureDropped: wire.dropped };
  for (const r of replies) {
    const w = wire.rttNs.get(r!.seq);
    run.rawUs.push(r!.rttNs / 1000);
    if (w === undefined) continue;
    run.wireMatched++;
    run.rawMinusWireUs.push((r!.rttNs - w) / 1000);
    const e = echoes.get(r!.seq);
    if (e?.matched) {
      run.joined++;
      run.errorUs.push((e.correctedNs - w) / 1000);
      run.outerMinusWireUs.push((e.outerNs - w) / 1000);
    }
  }
  return run;
}

const q = (xs: number[], p: number): number => quantile(xs, p);

export async function runAccuracy(ctx: BenchContext): Promise<AccuracyResult> {
  const reps = ctx.quick ? 2 : 4;
  const modes = MODES.map((m) => ({ ...m, count: ctx.quick ? m.quickCount : m.count }));
  const runs = new Map<string, Run[]>(); // `${mode}/${neighbours}/${traced}` → runs
  const key = (mode: PingMode, n: number, traced: boolean): string => `${mode}/${n}/${traced}`;
  // Neighbours flood for the whole of a (rep, level) block: both tracing states, all modes.
  const blockSeconds = Math.ceil(modes.reduce((s, m) => s + m.count * Math.max(m.intervalS, 0.0002) + 2, 0) * 2 + 6);
  log(`accuracy: ${reps} interleaved reps × neighbours ${NEIGHBOURS.join('/')} × ${modes.map((m) => m.mode).join(', ')}, traced and not; wire = inbound captures at ${ctx.lab.target.dev} (requests) and ${ctx.lab.host.uplink} (replies)`);
  await pingRun(ctx, undefined, 0, 20, 0.01); // warm-up (ARP, NAT state, capture path)
  for (let rep = 0; rep < reps; rep++) {
    for (const n of rep % 2 ? [...NEIGHBOURS].reverse() : NEIGHBOURS) {
      checkAborted();
      const floods = ctx.neighbours.slice(0, n).map((c) => pingFlood(c.name, ctx.lab.target.ip4, blockSeconds).catch(() => undefined));
      if (n) await sleep(500); // floods running
      const order = rep % 2 ? [true, false] : [false, true];
      for (const traced of order) {
        const tracing = traced ? new Tracing() : undefined;
        try {
          tracing?.tracer.addOuter(ctx.outer);
          const index = tracing ? tracing.trace(ctx.c1Ref).index : 0;
          for (const m of modes) {
            const r = await pingRun(ctx, tracing, index, m.count, m.intervalS);
            runs.set(key(m.mode, n, traced), [...(runs.get(key(m.mode, n, traced)) ?? []), r]);
            if (traced) {
              log(`accuracy: rep ${rep + 1}, ${n} neighbours, ${m.mode}: ${r.joined}/${r.replies} joined, raw − wire ${q(r.rawMinusWireUs, 0.5).toFixed(1)} µs, outer − wire ${q(r.outerMinusWireUs, 0.5).toFixed(1)} µs, |corrected − wire| p50 ${q(r.errorUs.map(Math.abs), 0.5).toFixed(1)} p99 ${q(r.errorUs.map(Math.abs), 0.99).toFixed(1)} µs${r.captureDropped ? `, capture dropped ${r.captureDropped}` : ''}`);
            }
          }
        } finally {
          await tracing?.close();
        }
      }
      await Promise.all(floods); // they end at their deadline
    }
  }
  const scenarios: AccuracyScenario[] = [];
  for (const m of modes) {
    for (const n of NEIGHBOURS) {
      const on = runs.get(key(m.mode, n, true)) ?? [];
      const off = runs.get(key(m.mode, n, false)) ?? [];
      const errors = on.flatMap((r) => r.errorUs);
      const abs = errors.map(Math.abs);
      scenarios.push({
        mode: m.mode,
        neighbours: n,
        count: m.count,
        intervalS: m.intervalS,
        matched: spread(on.map((r) => r.joined / Math.max(1, r.replies))),
        rawMinusWireUs: q(on.flatMap((r) => r.rawMinusWireUs), 0.5),
        outerMinusWireUs: q(on.flatMap((r) => r.outerMinusWireUs), 0.5),
        errorUs: { median: q(errors, 0.5), absP50: q(abs, 0.5), absP90: q(abs, 0.9), absP99: q(abs, 0.99), absMax: Math.max(...abs), n: errors.length },
        tracingAddsMedianUs: spread(on.map((r, i) => q(r.rawUs, 0.5) - q(off[i]?.rawUs ?? [], 0.5))),
        tracingAddsP99Us: spread(on.map((r, i) => q(r.rawUs, 0.99) - q(off[i]?.rawUs ?? [], 0.99))),
        untracedRawUs: { p50: q(off.flatMap((r) => r.rawUs), 0.5), p99: q(off.flatMap((r) => r.rawUs), 0.99) },
        tracedRawUs: { p50: q(on.flatMap((r) => r.rawUs), 0.5), p99: q(on.flatMap((r) => r.rawUs), 0.99) },
      });
    }
  }
  return { reps, scenarios, goals: { idleP99Us: 5, floodP99Us: 10 } };
}
