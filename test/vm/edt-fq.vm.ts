// EDT pacing with a real fq (npm run test:vm; the reference host has no
// sch_fq): TCP from a limited container runs at the limit, a UDP flood over
// the limit is paced rather than dropped, traffic to a neighbour on the same
// bridge is shaped too, and removing the limit gives the device back exactly
// as it was (root qdisc and filters), on the tcx path and on the clsact
// fallback. Root only; needs sch_fq (fails, never skips, without it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelFeature } from '../../src/host/addon';
import { gsoSegsFor } from '../../src/host/gso';
import { Limits } from '../../src/host/limits';
import { resolveNetns, type NetnsRef } from '../../src/host/netns';
import { kernelHasFq } from '../../src/host/qdisc';
import { Tracer } from '../../src/host/tracer';
import { run } from '../../src/lab/exec';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { iperfClient, killAllTraffic, startIperfServer, type IperfServer } from '../../src/lab/traffic';
import { isRoot, skipUnlessRoot } from '../support/root';
import { hasTcx } from '../support/kernel';

const RATE_BITS = 50e6; // well below what TCG moves unlimited, so the limit binds
const UDP_RATE_BITS = 20e6; // an iperf3 UDP sender under TCG manages ~45 Mbit/s: flood at 3x this
const SECONDS = 5;
// TCP runs as 8 streams, as a container's traffic usually is, and once more
// if a run falls short of the floor. One stream keeps only about 1 ms of data
// queued in fq (TCP small queues); under TCG a vCPU the host delays longer
// than that leaves fq idle, and EDT banks no credit for idle time (DESIGN §3),
// so that time is lost. With the host busy one stream reached 0.72-0.92 of
// the limit, 8 streams 0.94-0.99 (docs/kernels.md, "TCP as 8 streams").
// Every run is held to the upper bound and to no drops; a limit off by 10%
// either way fails both runs.
const TCP_STREAMS = 8;
const TCP_RUNS = 2;
const WIRE_FLOOR = 0.95;
const WIRE_CEILING = 1.02;
// The limit counts bytes on the wire: per 1448-byte TCP segment (MSS at MTU
// 1500 with timestamps) 66 more (Ethernet 14, IPv4 20, TCP 32). Device byte
// counters cannot measure this: veth and the bridge carry GSO packets whole,
// counting their headers once (they read 3.8% low at 64 KiB GSO packets).
const TCP_WIRE_PER_GOODPUT = (1448 + 66) / 1448;
// UDP: 1460-byte iperf3 datagrams, 42 bytes of headers each.
const UDP_WIRE_PER_GOODPUT = (1460 + 42) / 1460;

/** The device's GSO bound (what a limit caps, src/host/gso.ts). */
async function gsoMaxSegs(ns: string, dev: string): Promise<number> {
  return (JSON.parse((await run('ip', ['-n', ns, '-j', '-d', 'link', 'show', 'dev', dev])).stdout) as { gso_max_segs: number }[])[0].gso_max_segs;
}

/** Everything a limit changes on a device: qdiscs, both filter hooks, its GSO bound. */
async function tcState(ns: string, dev: string): Promise<string> {
  const parts = await Promise.all([
    gsoMaxSegs(ns, dev).then((n) => ({ stdout: `gso_max_segs ${n}` })),
    run('tc', ['-n', ns, '-j', 'qdisc', 'show', 'dev', dev]),
    run('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', dev, 'egress']),
    run('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', dev, 'ingress']),
  ]);
  return parts.map((r) => r.stdout).join('\n');
}

/** fq's own drop counter on dev (root qdisc), or undefined without fq. */
async function fqDrops(ns: string, dev: string): Promise<number | undefined> {
  const q = JSON.parse((await run('tc', ['-n', ns, '-s', '-j', 'qdisc', 'show', 'dev', dev])).stdout) as { kind: string; drops?: number }[];
  return q.find((x) => x.kind === 'fq')?.drops;
}

interface TcpRun {
  /** on-the-wire rate / limit (iperf3's goodput, converted) */
  wire: number;
  goodputBits: number;
  /** what the EDT program counted during the run */
  drops: number;
  delayed: number;
  packets: number;
  passedBits: number;
}

/** iperf3 TCP from ns to server under the limit limits holds on netns: a
 * second run only when the first falls short of the floor (see TCP_RUNS). */
async function tcpRuns(limits: Limits, netns: number, ns: string, server: string, port: number): Promise<TcpRun[]> {
  const runs: TcpRun[] = [];
  while (runs.length < TCP_RUNS && !runs.some((r) => r.wire >= WIRE_FLOOR)) {
    const s0 = limits.state(netns);
    const r = await iperfClient(ns, server, { seconds: SECONDS, port, streams: TCP_STREAMS });
    const s1 = limits.state(netns);
    runs.push({
      wire: (r.bitsPerSecond / RATE_BITS) * TCP_WIRE_PER_GOODPUT,
      goodputBits: r.bitsPerSecond,
      drops: s1.drops - s0.drops,
      delayed: s1.delayed - s0.delayed,
      packets: s1.packets - s0.packets,
      passedBits: ((s1.bytes - s0.bytes) * 8) / SECONDS,
    });
  }
  return runs;
}

/** Each run within the ceiling and without horizon drops; the best at the floor. */
function expectTcpRuns(runs: TcpRun[]): void {
  for (const r of runs) {
    expect(r.drops).toBe(0);
    expect(r.delayed).toBeGreaterThan(0);
    expect(r.wire).toBeLessThanOrEqual(WIRE_CEILING);
  }
  expect(Math.max(...runs.map((r) => r.wire))).toBeGreaterThanOrEqual(WIRE_FLOOR);
}

function describeTcpRun(r: TcpRun): string {
  return `on the wire ${((r.wire * RATE_BITS) / 1e6).toFixed(2)} Mbit/s (ratio ${r.wire.toFixed(3)}), goodput ${(r.goodputBits / 1e6).toFixed(2)} Mbit/s, ` +
    `horizon drops ${r.drops}, delayed ${r.delayed}/${r.packets}, EDT passed ${(r.passedBits / 1e6).toFixed(2)} Mbit/s`;
}

describe.skipIf(skipUnlessRoot)('EDT pacing with fq', () => {
  let lab: Lab;
  let servers: IperfServer[] = [];
  let c1: NetnsRef;
  let c2: NetnsRef;

  beforeAll(async () => {
    if (!isRoot) throw new Error('EDT fq tests need root (CI=true: they must run, not skip)');
    if (!kernelHasFq()) throw new Error('this kernel has no sch_fq: EDT pacing cannot be tested here (run npm run test:vm)');
    await reapLabs();
    lab = await labUp({ containers: 2 });
    [c1, c2] = lab.containers.map((c) => resolveNetns(c.name));
    servers = [
      await startIperfServer(lab.target.name, { port: 5601 }),
      await startIperfServer(lab.containers[1].name, { port: 5602 }),
    ];
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
    killAllTraffic();
    if (lab) await labDown(lab);
  });

  // Each limit attachment a kernel of the matrix uses: tcx (6.6+), clsact (all).
  const attachments: { label: string; disable: KernelFeature[]; runs: () => boolean }[] = [
    { label: 'tcx', disable: [], runs: hasTcx },
    { label: 'clsact + cls_bpf', disable: ['tcx'], runs: () => true },
  ];
  for (const a of attachments.filter((x) => x.runs())) {
    it(`paces TCP to ${WIRE_FLOOR}-${WIRE_CEILING} x the limit without horizon drops, then restores the device (${a.label})`, async () => {
      const ns = lab.containers[0].name;
      const before = await tcState(ns, 'eth0');
      const tracer = new Tracer({ tracing: false, disable: a.disable });
      const limits = new Limits(tracer);
      let runs: TcpRun[] = [];
      try {
        expect(tracer.features).toContain(a.disable.includes('tcx') || !hasTcx() ? 'limit-attach:clsact' : 'limit-attach:tcx');
        const held = limits.set(c1, { rateBytesPerSec: RATE_BITS / 8 });
        expect(held.mode).toBe('fq');
        // 1 ms at 50 Mbit/s is 6250 bytes: four 1514-byte frames per GSO packet.
        expect(held.gso?.segs).toBe(gsoSegsFor(RATE_BITS / 8, 1500));
        expect(await gsoMaxSegs(ns, 'eth0')).toBe(4);
        runs = await tcpRuns(limits, c1.inode, ns, lab.target.ip4, 5601);
        expect(await fqDrops(ns, 'eth0')).toBe(0);
      } finally {
        limits.removeAll();
        await tracer.close();
      }
      expect(await tcState(ns, 'eth0')).toBe(before);
      for (const r of runs) console.log(`EDT+fq TCP, ${TCP_STREAMS} streams (${a.label}), limit ${RATE_BITS / 1e6} Mbit/s: ${describeTcpRun(r)}`);
      // No goodput floor of its own: goodput is the wire ratio divided by a
      // constant (a floor of 0.93 demanded wire ≥ 0.972, stricter than 0.95).
      expectTcpRuns(runs);
    });
  }

  it('paces a UDP flood over the limit instead of dropping it', async () => {
    const ns = lab.containers[0].name;
    const tracer = new Tracer({ tracing: false });
    const limits = new Limits(tracer);
    let result;
    let state;
    let fq;
    try {
      limits.set(c1, { rateBytesPerSec: UDP_RATE_BITS / 8 });
      result = await iperfClient(ns, lab.target.ip4, { udp: true, bitrate: `${(3 * UDP_RATE_BITS) / 1e6}M`, seconds: 3, port: 5601 });
      state = limits.state(c1.inode);
      fq = await fqDrops(ns, 'eth0');
    } finally {
      limits.removeAll();
      await tracer.close();
    }
    const ratio = (result.bitsPerSecond / UDP_RATE_BITS) * UDP_WIRE_PER_GOODPUT;
    console.log(`EDT+fq UDP flood at 3x the limit ${UDP_RATE_BITS / 1e6} Mbit/s: received ${(result.bitsPerSecond / 1e6).toFixed(2)} Mbit/s (wire ratio ${ratio.toFixed(3)}), ` +
      `lost ${result.lostPackets}/${result.packets}, horizon drops ${state.drops}, fq drops ${fq}, delayed ${state.delayed}/${state.packets}`);
    expect(state.drops).toBe(0); // within the horizon: paced
    expect(fq).toBe(0);
    expect(result.lostPackets).toBe(0);
    expect(state.delayed).toBeGreaterThan(state.packets / 2);
    expect(ratio).toBeLessThanOrEqual(WIRE_CEILING);
    expect(ratio).toBeGreaterThanOrEqual(0.9);
  });

  it('shapes traffic to a neighbour container on the same bridge', async () => {
    const ns = lab.containers[0].name;
    const tracer = new Tracer({ tracing: false });
    const limits = new Limits(tracer);
    let runs: TcpRun[] = [];
    try {
      limits.set(c1, { rateBytesPerSec: RATE_BITS / 8 });
      runs = await tcpRuns(limits, c1.inode, ns, lab.containers[1].ip4, 5602);
    } finally {
      limits.removeAll();
      await tracer.close();
    }
    for (const r of runs) console.log(`EDT+fq container to container, ${TCP_STREAMS} streams: ${describeTcpRun(r)}`);
    expectTcpRuns(runs);
  });

  it('leaves a clsact qdisc it did not create in place (cls_bpf fallback)', async () => {
    const ns = lab.containers[1].name;
    await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'eth0', 'clsact']);
    try {
      const before = await tcState(ns, 'eth0');
      const tracer = new Tracer({ tracing: false, disable: ['tcx'] });
      const limits = new Limits(tracer);
      try {
        limits.set(c2, { rateBytesPerSec: RATE_BITS / 8 });
        const during = JSON.parse((await run('tc', ['-n', ns, '-j', 'filter', 'show', 'dev', 'eth0', 'egress'])).stdout) as { options?: { bpf_name?: string } }[];
        expect(during.some((f) => f.options?.bpf_name?.startsWith('mb_edt'))).toBe(true);
      } finally {
        limits.removeAll();
        await tracer.close();
      }
      expect(await tcState(ns, 'eth0')).toBe(before);
    } finally {
      await run('tc', ['-n', ns, 'qdisc', 'del', 'dev', 'eth0', 'clsact']);
    }
  });
});
