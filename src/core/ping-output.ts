// ping-output.ts - what iputils `ping -n` prints, parsed: the lab, the
// benchmarks and `macebpf ping` read it. Pure.

export interface PingResult {
  sent: number;
  received: number;
  /** icmp_seq → rtt in ms (icmp_seq is 16 bit: wraps after 65535); duplicates ignored */
  rttsMs: Map<number, number>;
}

/** Parse iputils `ping -n` output. */
export function parsePing(stdout: string): PingResult {
  const rttsMs = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    if (line.includes('(DUP!)')) continue;
    const m = /icmp_seq=(\d+)\b.*\btime[=<]([\d.]+) ms/.exec(line);
    if (m) rttsMs.set(Number(m[1]), Number(m[2]));
  }
  const s = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  return s ? { sent: Number(s[1]), received: Number(s[2]), rttsMs } : { sent: rttsMs.size, received: rttsMs.size, rttsMs };
}

