// ping-output.ts - what iputils `ping -n [-D]` prints, parsed: the lab, the
// benchmarks and `macebpf ping` read it. Pure.

export interface PingResult {
  sent: number;
  received: number;
  /** icmp_seq → rtt in ms (icmp_seq is 16 bit: wraps after 65535); duplicates ignored */
  rttsMs: Map<number, number>;
}

/** One reply line. */
export interface PingReply {
  seq: number; // 0..65535 (wraps)
  rttNs: number; // as printed: 1 µs resolution below 1 ms
  /** `-D`: wall-clock ns since the epoch when ping printed the line (µs resolution) */
  printedWallNs?: number;
  dup: boolean;
}

const REPLY = /^(?:\[(\d+)\.(\d+)\] )?.*\bicmp_seq=(\d+)\b.*\btime[=<]([\d.]+) ms/;

/** A reply line of `ping -n [-D]`, or undefined for any other line. */
export function parsePingLine(line: string): PingReply | undefined {
  const m = REPLY.exec(line);
  if (!m) return undefined;
  const [, sec, frac, seq, ms] = m;
  const reply: PingReply = { seq: Number(seq), rttNs: Math.round(Number(ms) * 1e6), dup: line.includes('(DUP!)') };
  if (sec !== undefined && frac !== undefined) reply.printedWallNs = Number(sec) * 1e9 + Number(frac.padEnd(9, '0').slice(0, 9));
  return reply;
}

/** The "N packets transmitted, M received" line, or undefined. */
export function parsePingSummary(text: string): { sent: number; received: number } | undefined {
  const s = /(\d+) packets transmitted, (\d+) received/.exec(text);
  return s ? { sent: Number(s[1]), received: Number(s[2]) } : undefined;
}

/** Parse iputils `ping -n` output. */
export function parsePing(stdout: string): PingResult {
  const rttsMs = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const r = parsePingLine(line);
    if (r && !r.dup) rttsMs.set(r.seq, r.rttNs / 1e6);
  }
  const s = parsePingSummary(stdout);
  return s ? { ...s, rttsMs } : { sent: rttsMs.size, received: rttsMs.size, rttsMs };
}
