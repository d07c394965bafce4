// wire.ts - the ground truth for accuracy (issue 8): a packet capture on the
// outer device in the lab's host namespace, libpcap's kernel timestamps in
// ns, pairing each echo request leaving with its reply arriving. Only the
// measuring pinger's echoes are captured: it marks its payload with a
// pattern (ping -p) that the capture filter matches past the timestamp.
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from '../src/lab/exec';

/** ping -p pattern byte of the measuring pinger; neighbours use ping's default pattern. */
export const MARK = 0xab;

export interface WireCapture {
  /** Stops the capture; per icmp_seq the wire RTT in ns (request out → reply in on the device). */
  stop(): Promise<{ rttNs: Map<number, number>; requests: number; replies: number; dropped: number }>;
}

const LINE = /^(\d+)\.(\d+) IP .*ICMP echo (request|reply), id \d+, seq (\d+)/;

export async function captureEchoes(hostNs: string, dev: string): Promise<WireCapture> {
  // ICMP header (8) + ping's struct timeval (16): the pattern starts at 24.
  const filter = `icmp and (icmp[0] = 8 or icmp[0] = 0) and icmp[24] = ${MARK} and icmp[25] = ${MARK}`;
  const child: ChildProcess = spawn('ip', ['netns', 'exec', hostNs, 'tcpdump', '-i', dev, '-nn', '-tt', '--time-stamp-precision=nano', '-B', '16384', '-l', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  for (let i = 0; !err.includes('listening on'); i++) {
    if (child.exitCode !== null || i > 100) throw new Error(`tcpdump did not start on ${dev} in ${hostNs}: ${err.trim()}`);
    await sleep(50);
  }
  return {
    async stop() {
      await sleep(100); // the last reply's packet reaches the capture buffer
      child.kill('SIGINT');
      await exited;
      const sent = new Map<number, bigint>();
      const rttNs = new Map<number, number>();
      let requests = 0;
      let replies = 0;
      for (const line of out.split('\n')) {
        const m = LINE.exec(line);
        if (!m) continue;
        const t = BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!.padEnd(9, '0'));
        const seq = Number(m[4]);
        if (m[3] === 'request') {
          requests++;
          sent.set(seq, t);
        } else {
          replies++;
          const s = sent.get(seq);
          if (s !== undefined && !rttNs.has(seq)) rttNs.set(seq, Number(t - s));
        }
      }
      const dropped = Number(/(\d+) packets dropped by kernel/.exec(err)?.[1] ?? 0);
      return { rttNs, requests, replies, dropped };
    },
  };
}
