// ping.ts - the ping runs the benchmark uses: back-to-back RTT samples (per
// icmp_seq, µs) and timed floods (packet counts only).
import { nsExec } from '../src/lab/exec';
import { ping } from '../src/lab/traffic';

export interface RttRun {
  sent: number;
  received: number;
  /** icmp_seq → RTT in µs (ping prints whole µs below 1 ms) */
  rttUs: Map<number, number>;
  /** wall time of the whole ping run, ms */
  elapsedMs: number;
}

/** `ping -c count -i interval` (interval 0 = back to back: the next request leaves when the reply is in). */
export async function pingRtts(ns: string, target: string, count: number, intervalS: number): Promise<RttRun> {
  const t0 = performance.now();
  const r = await ping(ns, target, { count, intervalS, flood: intervalS === 0, waitS: 2 });
  const elapsedMs = performance.now() - t0;
  const rttUs = new Map<number, number>();
  for (const [seq, ms] of r.rttsMs) rttUs.set(seq, Math.round(ms * 1000 * 1000) / 1000);
  return { sent: r.sent, received: r.received, rttUs, elapsedMs };
}

export interface FloodRun {
  transmitted: number;
  received: number;
  seconds: number;
}

/** Back-to-back ping for `seconds` (-w deadline), quiet: only the counts. */
export async function pingFlood(ns: string, target: string, seconds: number): Promise<FloodRun> {
  const t0 = performance.now();
  const { stdout } = await nsExec(ns, 'ping', ['-n', '-q', '-i', '0', '-c', '100000000', '-w', String(seconds), target], {
    timeoutMs: (seconds + 15) * 1000,
    okCodes: [1],
  });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!m) throw new Error(`cannot parse ping summary: ${stdout.slice(-300)}`);
  return { transmitted: Number(m[1]), received: Number(m[2]), seconds: (performance.now() - t0) / 1000 };
}

/** `ping -q -i 0 -c count`: back to back, no per-reply output (so the only syscalls per round trip are ping's send and receive). */
export async function pingQuiet(ns: string, target: string, count: number): Promise<FloodRun> {
  const t0 = performance.now();
  const { stdout } = await nsExec(ns, 'ping', ['-n', '-q', '-i', '0', '-W', '2', '-c', String(count), target], {
    timeoutMs: 60_000,
    okCodes: [1],
  });
  const m = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!m) throw new Error(`cannot parse ping summary: ${stdout.slice(-300)}`);
  return { transmitted: Number(m[1]), received: Number(m[2]), seconds: (performance.now() - t0) / 1000 };
}
