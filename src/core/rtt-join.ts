// rtt-join.ts - the corrected RTT (DESIGN §5, docs/measurement.md): join each
// echo reply a pinger printed with the egress record of its request and the
// ingress record of its reply, and subtract exactly what lies between ping's
// own timestamps and the outer device:
//
//   ping's RTT   = kernel receive timestamp of the reply − user-space send stamp
//   egress part  = egress record total (S: send syscall → O: outer device)
//   ingress part = ingress record virt (O: outer device → D: container device,
//                  where the kernel's receive timestamp is taken; the stack part
//                  D → S, the copy to ping, lies after ping's RTT ends)
//   corrected    = raw − egress part − ingress part
//   outer RTT    = ingress O time − egress O time (measured in the kernel)
//
// Records and replies arrive in any order (records lag by up to the poller's
// interval); a reply waits up to waitNs for its records. Sequences are 16 bit
// and wrap, so a reply is matched to the record nearest the time its request
// left (from ping -D's print time minus the RTT), not by sequence alone.
// Pure: the CLI, the daemon and the benchmark share it.
import type { PingReply } from './ping-output';
import type { Direction } from './records';

/** One ICMP echo record of the traced container. t: store ns of its first stage. */
export interface EchoRecord {
  t: number;
  total: number;
  stack: number;
  virt: number;
}

export interface Echo {
  seq: number;
  rawNs: number;
  egressNs: number; // NaN when no record
  ingressNs: number;
  correctedNs: number;
  /** request leaving the outer device to reply arriving there, from the kernel's timestamps */
  outerNs: number;
  matched: boolean;
  /** store ns when the request entered the kernel (NaN when unmatched) */
  t: number;
}

const SEQ_SPACE = 65536;
/** ping -D prints after its receive timestamp; allow this much between them. */
const PRINT_SLACK_NS = 200e6;

export interface EchoJoinOptions {
  /** how long a reply waits for its records (store ns); default 1 s */
  waitNs?: number;
  /** records older than this are dropped unmatched (lost replies); default 30 s */
  keepNs?: number;
}

interface Pending {
  reply: PingReply;
  tPrint: number; // store ns, NaN without -D
  arrived: number; // store ns when the line was read
}

export class EchoJoin {
  private readonly records: Record<Direction, Map<number, EchoRecord[]>> = { egress: new Map(), ingress: new Map() };
  private readonly pending: Pending[] = [];
  private readonly waitNs: number;
  private readonly keepNs: number;
  /** Records dropped after keepNs without a reply (lost or not printed). */
  expired = 0;

  constructor(
    private readonly baseNs: bigint,
    opts: EchoJoinOptions = {},
  ) {
    this.waitNs = opts.waitNs ?? 1e9;
    this.keepNs = opts.keepNs ?? 30e9;
  }

  record(dir: Direction, seq: number, r: EchoRecord): void {
    const key = seq % SEQ_SPACE;
    const list = this.records[dir].get(key);
    if (list) list.push(r);
    else this.records[dir].set(key, [r]);
  }

  /** A reply line as ping printed it; nowT: store ns now. Duplicates are ignored. */
  reply(reply: PingReply, nowT: number): void {
    if (reply.dup) return;
    const tPrint = reply.printedWallNs === undefined ? NaN : reply.printedWallNs - Number(this.baseNs);
    this.pending.push({ reply, tPrint, arrived: nowT });
  }

  /** Echoes resolved by now, in reply order: matched, or given up on after waitNs. */
  take(nowT: number): Echo[] {
    const out: Echo[] = [];
    while (this.pending.length) {
      const p = this.pending[0]!;
      const echo = this.match(p);
      if (!echo.matched && nowT - p.arrived < this.waitNs) break; // keep order: wait for the head
      this.pending.shift();
      out.push(echo);
    }
    this.prune(nowT);
    return out;
  }

  /** Resolves every waiting reply now (end of the run). */
  flush(): Echo[] {
    return this.take(Infinity);
  }

  private match(p: Pending): Echo {
    const { seq, rttNs } = p.reply;
    const eg = this.pick('egress', seq, (r) => (Number.isNaN(p.tPrint) ? -r.t : r.t <= p.tPrint && r.t >= p.tPrint - rttNs - PRINT_SLACK_NS ? -Math.abs(r.t - (p.tPrint - rttNs)) : undefined));
    const ing = eg ? this.pick('ingress', seq, (r) => (r.t >= eg.t && r.t <= eg.t + rttNs + PRINT_SLACK_NS ? -r.t : undefined)) : undefined;
    const matched = eg !== undefined && ing !== undefined && Number.isFinite(ing.virt);
    if (matched) {
      this.consume('egress', seq, eg);
      this.consume('ingress', seq, ing);
    }
    const egressNs = eg?.total ?? NaN;
    const ingressNs = ing?.virt ?? NaN;
    return {
      seq,
      rawNs: rttNs,
      egressNs,
      ingressNs,
      correctedNs: matched ? rttNs - egressNs - ingressNs : NaN,
      outerNs: matched ? ing.t - (eg.t + eg.total) : NaN,
      matched,
      t: eg?.t ?? NaN,
    };
  }

  // The record of seq with the highest score (undefined score: not a candidate).
  private pick(dir: Direction, seq: number, score: (r: EchoRecord) => number | undefined): EchoRecord | undefined {
    let best: EchoRecord | undefined;
    let bestScore = -Infinity;
    for (const r of this.records[dir].get(seq % SEQ_SPACE) ?? []) {
      const s = score(r);
      if (s !== undefined && s > bestScore) {
        best = r;
        bestScore = s;
      }
    }
    return best;
  }

  private consume(dir: Direction, seq: number, r: EchoRecord): void {
    const list = this.records[dir].get(seq % SEQ_SPACE)!;
    list.splice(list.indexOf(r), 1);
    if (!list.length) this.records[dir].delete(seq % SEQ_SPACE);
  }

  private prune(nowT: number): void {
    if (!Number.isFinite(nowT)) return;
    for (const dir of ['egress', 'ingress'] as const) {
      for (const [seq, list] of this.records[dir]) {
        const keep = list.filter((r) => nowT - r.t < this.keepNs);
        this.expired += list.length - keep.length;
        if (keep.length) this.records[dir].set(seq, keep);
        else this.records[dir].delete(seq);
      }
    }
  }
}

/** p50/p90/p99 of the finite values (NaN when none), for the summaries. */
export function quantilesOf(values: number[]): { p50: number; p90: number; p99: number } {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  const q = (p: number): number => (v.length ? v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]! : NaN);
  return { p50: q(0.5), p90: q(0.9), p99: q(0.99) };
}

export const ECHO_CSV_HEADER = 'seq,timestamp_ns,raw_ns,egress_ns,ingress_ns,corrected_ns,outer_ns';

/** One echo as a CSV line (empty fields where unmatched); timestamp_ns: wall clock when the request entered the kernel. */
export function formatEchoRow(e: Echo, baseNs: bigint): string {
  const n = (x: number): string => (Number.isFinite(x) ? String(Math.round(x)) : '');
  const ts = Number.isFinite(e.t) ? (baseNs + BigInt(Math.round(e.t))).toString() : '';
  return [e.seq, ts, e.rawNs, n(e.egressNs), n(e.ingressNs), n(e.correctedNs), n(e.outerNs)].join(',');
}

/** What the daemon knows of an echo without the pinger's output: the parts to subtract and the outer RTT. */
export interface EchoParts {
  seq: number;
  t: number; // store ns: the request entered the kernel
  egressNs: number;
  ingressNs: number;
  outerNs: number;
}

/**
 * Pairs each echo request's egress record with the ingress record of its
 * reply (same sequence, the first at or after it, within maxRttNs). A pinger
 * running in the container gets its corrected RTT as raw − egressNs −
 * ingressNs of the echo with its sequence sent at its time.
 */
export function pairEchoes(egress: ReadonlyArray<EchoRecord & { seq: number }>, ingress: ReadonlyArray<EchoRecord & { seq: number }>, maxRttNs = 1e9): EchoParts[] {
  const replies = new Map<number, Array<EchoRecord & { seq: number }>>();
  for (const r of [...ingress].sort((a, b) => a.t - b.t)) {
    const list = replies.get(r.seq % SEQ_SPACE);
    if (list) list.push(r);
    else replies.set(r.seq % SEQ_SPACE, [r]);
  }
  const out: EchoParts[] = [];
  for (const e of [...egress].sort((a, b) => a.t - b.t)) {
    const list = replies.get(e.seq % SEQ_SPACE);
    const i = list?.findIndex((r) => r.t >= e.t && r.t - e.t <= maxRttNs) ?? -1;
    if (i < 0 || !Number.isFinite(list![i]!.virt)) continue;
    const r = list!.splice(i, 1)[0]!;
    out.push({ seq: e.seq, t: e.t, egressNs: e.total, ingressNs: r.virt, outerNs: r.t - (e.t + e.total) });
  }
  return out;
}
