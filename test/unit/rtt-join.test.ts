import { describe, expect, it } from 'vitest';
import { parsePingLine } from '../../src/core/ping-output';
import { EchoJoin, pairEchoes, quantilesOf } from '../../src/core/rtt-join';

const BASE = 1_795_000_000_000_000_000n;
const wall = (t: number): number => Number(BASE) + t; // ping -D's print time for store time t

// One echo: request enters the kernel at tSend, leaves the outer device
// after egressNs; the reply reaches the outer device outerNs later, the
// container device virtNs after that (ping's receive timestamp), ping reads
// it stackNs later and prints at once.
function echo(j: EchoJoin, seq: number, tSend: number, o = { egressNs: 20_000, outerNs: 10_000, virtNs: 8_000, stackNs: 6_000 }): { rttNs: number; tPrint: number } {
  const tOutIn = tSend + o.egressNs + o.outerNs;
  j.record('egress', seq, { t: tSend, total: o.egressNs, stack: 9_000, virt: o.egressNs - 9_000 });
  j.record('ingress', seq, { t: tOutIn, total: o.virtNs + o.stackNs, stack: o.stackNs, virt: o.virtNs });
  return { rttNs: o.egressNs + o.outerNs + o.virtNs, tPrint: tOutIn + o.virtNs + o.stackNs };
}

describe('EchoJoin', () => {
  it('corrects raw RTT by the egress record and the ingress virt part, and measures the outer RTT', () => {
    const j = new EchoJoin(BASE);
    const { rttNs, tPrint } = echo(j, 1, 1e9);
    j.reply({ seq: 1, rttNs, printedWallNs: wall(tPrint), dup: false }, tPrint);
    const [e] = j.take(tPrint);
    expect(e).toMatchObject({ seq: 1, rawNs: 38_000, egressNs: 20_000, ingressNs: 8_000, correctedNs: 10_000, outerNs: 10_000, matched: true, t: 1e9 });
  });

  it('waits for records that arrive after ping printed the line, keeping reply order', () => {
    const j = new EchoJoin(BASE, { waitNs: 1e9 });
    const a = { seq: 5, rttNs: 38_000, printedWallNs: wall(2e9 + 44_000), dup: false };
    const b = { seq: 6, rttNs: 38_000, printedWallNs: wall(2.01e9 + 44_000), dup: false };
    j.reply(a, 2e9 + 44_000);
    j.reply(b, 2.01e9 + 44_000);
    expect(j.take(2.02e9)).toEqual([]);
    echo(j, 6, 2.01e9);
    expect(j.take(2.03e9)).toEqual([]); // 5 is still waiting, and 6 comes after it
    echo(j, 5, 2e9);
    expect(j.take(2.04e9).map((e) => [e.seq, e.matched])).toEqual([[5, true], [6, true]]);
  });

  it('gives up on a reply whose records never come, after waitNs', () => {
    const j = new EchoJoin(BASE, { waitNs: 1e9 });
    j.reply({ seq: 9, rttNs: 40_000, printedWallNs: wall(1e9), dup: false }, 1e9);
    expect(j.take(1.5e9)).toEqual([]);
    const [e] = j.take(2.1e9);
    expect(e).toMatchObject({ seq: 9, matched: false });
    expect(Number.isNaN(e!.correctedNs)).toBe(true);
  });

  it('matches wrapped sequences to the request sent when the reply says, not the first with that number', () => {
    const j = new EchoJoin(BASE);
    const old = echo(j, 3, 1e9); // seq 3 of the first round
    echo(j, 65536 + 3, 1e9 + 65536 * 1e6); // seq 3 again after the 16-bit wrap, 65 s later
    const late = 1e9 + 65536 * 1e6;
    j.reply({ seq: 3, rttNs: old.rttNs, printedWallNs: wall(late + old.tPrint - 1e9), dup: false }, late + 50_000);
    const [e] = j.take(late + 60_000);
    expect(e).toMatchObject({ seq: 3, matched: true, t: late });
  });

  it('ignores duplicate replies', () => {
    const j = new EchoJoin(BASE);
    const { rttNs, tPrint } = echo(j, 2, 1e9);
    j.reply({ seq: 2, rttNs, printedWallNs: wall(tPrint), dup: false }, tPrint);
    j.reply({ seq: 2, rttNs: rttNs + 5_000, printedWallNs: wall(tPrint + 1_000), dup: true }, tPrint + 1_000);
    const out = j.take(tPrint + 2_000);
    expect(out).toHaveLength(1);
    expect(out[0]!.rawNs).toBe(rttNs);
  });

  it('lost replies leave their records, which expire and are counted', () => {
    const j = new EchoJoin(BASE, { keepNs: 5e9 });
    j.record('egress', 7, { t: 1e9, total: 20_000, stack: NaN, virt: NaN }); // request sent, no reply ever
    const { rttNs, tPrint } = echo(j, 8, 1.01e9);
    j.reply({ seq: 8, rttNs, printedWallNs: wall(tPrint), dup: false }, tPrint);
    expect(j.take(tPrint).map((e) => e.seq)).toEqual([8]);
    j.take(10e9);
    expect(j.expired).toBe(1);
  });

  it('without -D timestamps, takes the oldest record of the sequence', () => {
    const j = new EchoJoin(BASE);
    echo(j, 4, 1e9);
    echo(j, 4, 3e9);
    j.reply({ seq: 4, rttNs: 38_000, dup: false }, 1e9 + 50_000);
    expect(j.take(1e9 + 60_000)[0]).toMatchObject({ matched: true, t: 1e9 });
  });
});

describe('ping output lines', () => {
  it('reads -D time, sequence, RTT and DUP!', () => {
    expect(parsePingLine('[1795351972.529193] 64 bytes from 198.19.1.2: icmp_seq=17 ttl=63 time=0.045 ms')).toEqual({ seq: 17, rttNs: 45_000, printedWallNs: 1795351972529193000, dup: false });
    expect(parsePingLine('64 bytes from fd00:19:1::2: icmp_seq=3 ttl=63 time=1.23 ms (DUP!)')).toEqual({ seq: 3, rttNs: 1_230_000, dup: true });
    expect(parsePingLine('PING 198.19.1.2 (198.19.1.2) 56(84) bytes of data.')).toBeUndefined();
  });

  it('quantiles skip unmatched (NaN) values', () => {
    expect(quantilesOf([NaN, 3, 1, 2])).toEqual({ p50: 2, p90: 3, p99: 3 });
    expect(Number.isNaN(quantilesOf([NaN]).p50)).toBe(true);
  });
});

describe('pairEchoes', () => {
  it('pairs each request with the first reply of its sequence after it, across a wrap', () => {
    const eg = [
      { seq: 1, t: 1000, total: 20, stack: 5, virt: 15 },
      { seq: 1, t: 5000, total: 22, stack: 5, virt: 17 }, // seq 1 again (wrapped), later
      { seq: 2, t: 2000, total: 20, stack: 5, virt: 15 }, // its reply was lost
    ];
    const ing = [
      { seq: 1, t: 5100, total: 9, stack: 4, virt: 5 },
      { seq: 1, t: 1100, total: 8, stack: 4, virt: 4 },
    ];
    expect(pairEchoes(eg, ing)).toEqual([
      { seq: 1, t: 1000, egressNs: 20, ingressNs: 4, outerNs: 80 },
      { seq: 1, t: 5000, egressNs: 22, ingressNs: 5, outerNs: 78 },
    ]);
  });
});
