// wire.ts - the ground truth for accuracy (issue 8): the echo's time on the
// wire between the outer device and the target, from packet captures that
// add no work to the path they measure. Each capture listens inbound only
// (tcpdump -Q in: libpcap sets PACKET_IGNORE_OUTGOING, so no transmit path
// clones a packet for it): the request arriving at the target's end of the
// uplink, the reply arriving at the outer device. A capture of both
// directions on the outer device itself runs its packet tap inside the
// request's transmit, before the transmit tracepoint: on an idle vCPU that
// moved its "out" stamp 6–7 µs ahead of the packet (docs/measurement.md).
// Both stamps are the kernel's receive timestamps (taken at netif_rx; veth
// hands a packet to its peer inside the sender's transmit), in ns. Only the
// measuring pinger's echoes are captured: it marks its payload with a
// pattern (ping -p) that the capture filter matches past the timestamp.
import { spawn, type ChildProcess } from 'node:child_process';
import { sleep } from '../src/lab/exec';

/** ping -p pattern byte of the measuring pinger; neighbours use ping's default pattern. */
export const MARK = 0xab;

export interface WireCapture {
  /** Stops the captures; per icmp_seq the wire RTT in ns (request at the target → reply at the outer device). */
  stop(): Promise<{ rttNs: Map<number, number>; requests: number; replies: number; dropped: number }>;
}

const LINE = /^(\d+)\.(\d+) IP .*ICMP echo (request|reply), id \d+, seq (\d+)/;

interface Inbound {
  stop(): Promise<{ stamps: Map<number, bigint>; count: number; dropped: number }>;
}

// One inbound capture of the marked echoes of one ICMP type; per seq the first stamp.
async function captureInbound(ns: string, dev: string, type: 'request' | 'reply'): Promise<Inbound> {
  // ICMP header (8) + ping's struct timeval (16): the pattern starts at 24.
  const filter = `icmp and icmp[0] = ${type === 'request' ? 8 : 0} and icmp[24] = ${MARK} and icmp[25] = ${MARK}`;
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', dev, '-Q', 'in', '-nn', '-tt', '--time-stamp-precision=nano', '-B', '16384', '-l', filter], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  for (let i = 0; !err.includes('listening on'); i++) {
    if (child.exitCode !== null || i > 100) {
      child.kill('SIGINT');
      throw new Error(`tcpdump did not start on ${dev} in ${ns}: ${err.trim()}`);
    }
    await sleep(50);
  }
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      const stamps = new Map<number, bigint>();
      let count = 0;
      for (const line of out.split('\n')) {
        const m = LINE.exec(line);
        if (!m || m[3] !== type) continue;
        count++;
        const seq = Number(m[4]);
        if (!stamps.has(seq)) stamps.set(seq, BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!.padEnd(9, '0')));
      }
      return { stamps, count, dropped: Number(/(\d+) packets dropped by kernel/.exec(err)?.[1] ?? 0) };
    },
  };
}

/** Requests at the target's end of the uplink (targetNs, targetDev), replies at the outer device (hostNs, dev). */
export async function captureEchoes(hostNs: string, dev: string, targetNs: string, targetDev: string): Promise<WireCapture> {
  const requests = await captureInbound(targetNs, targetDev, 'request');
  let replies: Inbound;
  try {
    replies = await captureInbound(hostNs, dev, 'reply');
  } catch (e) {
    await requests.stop();
    throw e;
  }
  return {
    async stop() {
      await sleep(100); // the last reply's packet reaches the capture buffer
      const [req, rep] = await Promise.all([requests.stop(), replies.stop()]);
      const rttNs = new Map<number, number>();
      for (const [seq, t] of rep.stamps) {
        const s = req.stamps.get(seq);
        if (s !== undefined && t > s) rttNs.set(seq, Number(t - s));
      }
      return { rttNs, requests: req.count, replies: rep.count, dropped: req.dropped + rep.dropped };
    },
  };
}
