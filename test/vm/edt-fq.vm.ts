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
    it(`paces TCP to 0.95-1.02 x the limit without horizon drops, then restores the device (${a.label})`, async () => {
      const ns = lab.containers[0].name;
      const before = await tcState(ns, 'eth0');
      const tracer = new Tracer({ tracing: false, disable: a.disable });
      const limits = new Limits(tracer);
      let result;
      let state;
            try {
        expect(tracer.features).toContain(a.disable.includes('tcx') || !hasTcx() ? 'limit-attach:clsact' : 'limit-attach:tcx');
        const held = limits.set(c1, { rateBytesPerSec: RATE_BITS / 8 });
        expect(held.mode).toBe('fq');
        // 1 ms at 50 Mbit/s is 6250 bytes: four 1514-byte frames per GSO packet.
        expect(held.gso?.segs).toBe(gsoSegsFor(RATE_BITS / 8, 1500));
        expect(await gsoMaxSegs(ns, 'eth0')).toBe(4);
        result = await iperfClient(ns, lab.target.ip4, { seconds: SECONDS, port: 5601 });
        state = limits.state(c1.inode);
        expect(await fqDrops(ns, 'eth0')).toBe(0);
      } finally {
        limits.removeAll();
        await tracer.close();
      }
      expect(await tcState(ns, 'eth0')).toBe(before);
      const goodputRatio = result.bitsPerSecond / RATE_BITS;
      const wireRatio = goodputRatio * TCP_WIRE_PER_GOODPUT;
      console.log(`EDT+fq TCP (${a.label}): limit ${RATE_BITS / 1e6} Mbit/s, on the wire ${((wireRatio * RATE_BITS) / 1e6).toFixed(2)} Mbit/s (ratio ${wireRatio.toFixed(3)}), ` +
        `goodput ${(result.bitsPerSecond / 1e6).toFixed(2)} Mbit/s (ratio ${goodputRatio.toFixed(3)}), horizon drops ${state.drops}, delayed ${state.delayed}/${state.packets}, ` +
        `EDT passed ${((state.bytes * 8) / SECONDS / 1e6).toFixed(2)} Mbit/s`);
      expect(state.drops).toBe(0);
      expect(state.delayed).toBeGreaterThan(0);
      expect(wireRatio).toBeGreaterThanOrEqual(0.95);
      expect(wireRatio).toBeLessThanOrEqual(1.02);
      // No separate goodput floor: goodput is the wire ratio divided by a
      // constant, so a floor of 0.93 demanded wire ≥ 0.972, stricter than the
      // issue's 0.95, and under TCG 6.1 measured 0.925-0.939 run to run with
      // the EDT program passing 0.97 of the limit.
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
    expect(ratio).toBeLessThanOrEqual(1.02);
    expect(ratio).toBeGreaterThanOrEqual(0.9);
  });

  it('shapes traffic to a neighbour container on the same bridge', async () => {
    const ns = lab.containers[0].name;
    const tracer = new Tracer({ tracing: false });
    const limits = new Limits(tracer);
    let result;
    try {
      limits.set(c1, { rateBytesPerSec: RATE_BITS / 8 });
      result = await iperfClient(ns, lab.containers[1].ip4, { seconds: SECONDS, port: 5602 });
    } finally {
      limits.removeAll();
      await tracer.close();
    }
    const wireRatio = (result.bitsPerSecond / RATE_BITS) * TCP_WIRE_PER_GOODPUT;
    console.log(`EDT+fq container to container: on the wire ${((wireRatio * RATE_BITS) / 1e6).toFixed(2)} Mbit/s (ratio ${wireRatio.toFixed(3)}), goodput ${(result.bitsPerSecond / 1e6).toFixed(2)} Mbit/s`);
    expect(wireRatio).toBeGreaterThanOrEqual(0.95);
    expect(wireRatio).toBeLessThanOrEqual(1.02);
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
