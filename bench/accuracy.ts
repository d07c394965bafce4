// accuracy.ts - does subtracting the container's own expense give the RTT a
// process outside the container would see? (DESIGN §9) With macebpf tracing
// c1: ping c1 → target, and per icmp_seq corrected = RTT − egress record −
// ingress record; interleaved with ping from the host netns (the lab's
// "host", where the outer device lives) to the same target. Reported: the
// median difference corrected − host, per repetition, for back-to-back and
// for paced pings.
//
// ping's RTT ends at the kernel's receive timestamp of the reply (taken at
// the container device on ingress), while the ingress record ends later, at
// the copy to the application (docs/measurement.md). The variant "ingress
// virt only" subtracts just the outer→container-device part of the ingress
// record, which is the part inside ping's RTT.
import type { RecordColumns } from '../src/core/records';
import { EGRESS, INGRESS } from '../src/core/records';
import { log, sleep, startTracing, type BenchContext } from './context';
import { pingRtts } from './ping';
import { histogram, median, spread, summarize, type Spread, type Summary } from './stats';

const ICMP = 1;

export interface AccuracyRep {
  mode: 'back-to-back' | 'paced';
  rep: number;
  container: {
    sent: number;
    received: number;
    /** replies with both an egress and an ingress record */
    matched: number;
    rawUs: Summary;
    egressUs: Summary;
    ingressUs: Summary;
    ingressVirtUs: Summary;
    correctedUs: Summary;
    correctedVirtUs: Summary;
    /** 0.1 µs bins */
    correctedHistogramUs: Record<string, number>;
  };
  host: { sent: number; received: number; rttUs: Summary; histogramUs: Record<string, number> };
  /** median corrected − median host RTT, µs */
  diffUs: number;
  diffVirtUs: number;
  rawDiffUs: number;
}

export interface AccuracyModeSummary {
  mode: AccuracyRep['mode'];
  pingsPerRep: number;
  intervalS: number;
  containerRawUs: Spread;
  correctedUs: Spread;
  correctedVirtUs: Spread;
  hostUs: Spread;
  diffUs: Spread;
  diffVirtUs: Spread;
  rawDiffUs: Spread;
  matchedFraction: Spread;
}

export interface AccuracyResult {
  reps: AccuracyRep[];
  summary: AccuracyModeSummary[];
}

export async function runAccuracy(ctx: BenchContext): Promise<AccuracyResult> {
  const reps = ctx.quick ? 3 : 5;
  const modes: Array<{ mode: AccuracyRep['mode']; count: number; intervalS: number }> = [
    { mode: 'back-to-back', count: ctx.quick ? 1000 : 2000, intervalS: 0 },
    { mode: 'paced', count: ctx.quick ? 200 : 400, intervalS: 0.002 },
  ];
  const target = ctx.lab.target.ip4;
  const tracing = await startTracing(ctx);
  const idx = tracing.index.get(ctx.c1.name)!;
  const egress = new Map<number, number>();
  const ingress = new Map<number, { total: number; virt: number }>();
  const listener = (cols: RecordColumns): void => {
    for (let i = 0; i < cols.length; i++) {
      if (cols.container[i] !== idx || cols.proto[i] !== ICMP) continue;
      if (cols.dir[i] === EGRESS) egress.set(cols.packetId[i]!, cols.totalNs[i]!);
      else if (cols.dir[i] === INGRESS) ingress.set(cols.packetId[i]!, { total: cols.totalNs[i]!, virt: cols.virtNs[i]! });
    }
  };
  tracing.session.on('records', listener);
  const out: AccuracyRep[] = [];
  log(`accuracy: ${reps} interleaved reps (container traced, then host netns) per mode`);
  try {
    await pingRtts(ctx.c1.name, target, 200, 0); // warm-up
    for (const m of modes) {
      for (let rep = 0; rep < reps; rep++) {
        const hostFirst = rep % 2 === 1;
        const runHost = (): ReturnType<typeof pingRtts> => pingRtts(ctx.lab.host.name, target, m.count, m.intervalS);
        const host1 = hostFirst ? await runHost() : undefined;
        await sleep(200);
        egress.clear();
        ingress.clear();
        const c = await pingRtts(ctx.c1.name, target, m.count, m.intervalS);
        await sleep(300); // the poller hands over at least every 50 ms
        const host = host1 ?? (await runHost());
        const raw: number[] = [];
        const eg: number[] = [];
        const ing: number[] = [];
        const ingVirt: number[] = [];
        const corr: number[] = [];
        const corrVirt: number[] = [];
        for (const [seq, rtt] of c.rttUs) {
          const e = egress.get(seq);
          const i = ingress.get(seq);
          raw.push(rtt);
          if (e === undefined || i === undefined) continue;
          eg.push(e / 1000);
          ing.push(i.total / 1000);
          ingVirt.push(i.virt / 1000);
          corr.push(rtt - (e + i.total) / 1000);
          if (Number.isFinite(i.virt)) corrVirt.push(rtt - (e + i.virt) / 1000);
        }
        const hostRtts = [...host.rttUs.values()];
        const row: AccuracyRep = {
          mode: m.mode,
          rep,
          container: {
            sent: c.sent,
            received: c.received,
            matched: corr.length,
            rawUs: summarize(raw),
            egressUs: summarize(eg),
            ingressUs: summarize(ing),
            ingressVirtUs: summarize(ingVirt),
            correctedUs: summarize(corr),
            correctedVirtUs: summarize(corrVirt),
            correctedHistogramUs: histogram(corr, 0.1),
          },
          host: { sent: host.sent, received: host.received, rttUs: summarize(hostRtts), histogramUs: histogram(hostRtts, 1) },
          diffUs: median(corr) - median(hostRtts),
          diffVirtUs: median(corrVirt) - median(hostRtts),
          rawDiffUs: median(raw) - median(hostRtts),
        };
        out.push(row);
        log(
          `accuracy: ${m.mode} rep ${rep + 1}: container raw ${row.container.rawUs.median} µs − egress ${row.container.egressUs.median.toFixed(1)} − ingress ${row.container.ingressUs.median.toFixed(1)} → corrected ${row.container.correctedUs.median.toFixed(1)} µs; host ${row.host.rttUs.median} µs (${row.container.matched}/${c.received} matched)`,
        );
      }
    }
  } finally {
    tracing.session.off('records', listener);
    tracing.close();
  }
  const summary: AccuracyModeSummary[] = modes.map((m) => {
    const rs = out.filter((r) => r.mode === m.mode);
    return {
      mode: m.mode,
      pingsPerRep: m.count,
      intervalS: m.intervalS,
      containerRawUs: spread(rs.map((r) => r.container.rawUs.median)),
      correctedUs: spread(rs.map((r) => r.container.correctedUs.median)),
      correctedVirtUs: spread(rs.map((r) => r.container.correctedVirtUs.median)),
      hostUs: spread(rs.map((r) => r.host.rttUs.median)),
      diffUs: spread(rs.map((r) => r.diffUs)),
      diffVirtUs: spread(rs.map((r) => r.diffVirtUs)),
      rawDiffUs: spread(rs.map((r) => r.rawDiffUs)),
      matchedFraction: spread(rs.map((r) => r.container.matched / Math.max(1, r.container.received))),
    };
  });
  return { reps: out, summary };
}
