// The tracer against the real kernel: real BPF programs, the lab with NAT,
// real ping/UDP/TCP traffic. Root only; with CI=true it must run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveIface } from '../../src/host/iface';
import { resolveNetns } from '../../src/host/netns';
import { DIRECTIONS, type RecordColumns } from '../../src/core/records';
import { Tracing } from '../../src/host/tracing';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { iperfClient, killAllTraffic, ping, startIperfServer } from '../../src/lab/traffic';
import { isRoot, skipUnlessRoot } from '../support/root';

interface Rec {
  netns: number;
  container: number;
  dir: 'egress' | 'ingress';
  proto: number;
  family: number;
  total: number;
  stack: number;
  virt: number;
  id: number;
}

const ICMP = 1;
const TCP = 6;
const UDP = 17;
const ICMP6 = 58;

describe.skipIf(skipUnlessRoot)('tracer (root, real kernel, lab with NAT)', () => {
  let lab: Lab;
  let session: Tracing;
  let records: Rec[] = [];
  let c1: { inode: number; index: number; name: string };
  let c2: { inode: number; name: string };

  const take = (): Rec[] => {
    const r = records;
    records = [];
    return r;
  };
  // The poller hands over at least every 50 ms; give it time to drain.
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

  beforeAll(async () => {
    if (!isRoot) throw new Error('tracer integration tests need root (CI=true: they must run, not skip)');
    await reapLabs();
    lab = await labUp({ containers: 2 });
    session = new Tracing();
    session.tracer.addOuter(resolveIface(resolveNetns(lab.host.name), lab.host.uplink));
    const ref1 = resolveNetns(lab.containers[0].name);
    const t1 = session.trace(ref1);
    c1 = { inode: ref1.inode, index: t1.index, name: lab.containers[0].name };
    c2 = { inode: resolveNetns(lab.containers[1].name).inode, name: lab.containers[1].name };
    session.on('records', (cols: RecordColumns) => {
      for (let i = 0; i < cols.length; i++) {
        records.push({
          netns: cols.netns[i],
          container: cols.container[i],
          dir: DIRECTIONS[cols.dir[i]],
          proto: cols.proto[i],
          family: cols.family[i],
          total: cols.totalNs[i],
          stack: cols.stackNs[i],
          virt: cols.virtNs[i],
          id: cols.packetId[i],
        });
      }
    });
  });

  afterAll(async () => {
    await session?.close();
    killAllTraffic();
    if (lab) await labDown(lab);
  });

  it('records ping of the traced container only; the untraced one leaves no entry', async () => {
    await settle();
    take();
    const before0 = session.tracer.counters(0);
    // c2 starts 7 ms later: the same sequence number sent in the same
    // microsecond would give both containers one content key (a collision).
    const [p1, p2] = await Promise.all([
      ping(c1.name, lab.target.ip4, { count: 50, intervalS: 0.02 }),
      new Promise((r) => setTimeout(r, 7)).then(() => ping(c2.name, lab.target.ip4, { count: 50, intervalS: 0.02 })),
    ]);
    await settle();
    const recs = take().filter((r) => r.proto === ICMP);
    expect(p1.received).toBe(50);
    expect(p2.received).toBe(50);
    expect(recs.every((r) => r.netns === c1.inode && r.container === c1.index)).toBe(true);
    expect(recs.some((r) => r.netns === c2.inode)).toBe(false);
    const egress = recs.filter((r) => r.dir === 'egress');
    const ingress = recs.filter((r) => r.dir === 'ingress');
    expect(egress.length).toBe(50);
    expect(ingress.length).toBe(50);
    // What of each record lies inside the RTT ping measured for its sequence
    // fits in it: the whole egress record (from ping's own send stamp) and the
    // ingress virt part. ping's reply time is the kernel's receive timestamp
    // at the container device, so the ingress stack part (to ping's read)
    // comes after it; on a slow machine (a TCG guest) ping's wake-up alone
    // can outlast the RTT.
    for (const [seq, rttMs] of p1.rttsMs) {
      const e = egress.find((r) => r.id === seq);
      const i = ingress.find((r) => r.id === seq);
      expect(e, `egress record of icmp_seq ${seq}`).toBeDefined();
      expect(i, `ingress record of icmp_seq ${seq}`).toBeDefined();
      expect(e!.total).toBeGreaterThan(0);
      expect(i!.total).toBeGreaterThan(0);
      expect(e!.total).toBeLessThan(rttMs * 1e6);
      expect(i!.virt).toBeLessThan(rttMs * 1e6);
    }
    // All three stages seen for ping, and the parts add up to the total.
    for (const r of recs) {
      expect(Number.isNaN(r.stack)).toBe(false);
      expect(Number.isNaN(r.virt)).toBe(false);
      expect(r.stack + r.virt).toBe(r.total);
    }
    // c2's packets crossed the outer device without a map write: only c1's 50
    // replies started ingress entries there (flows of traced containers), and
    // c2's requests were counted nowhere.
    const after0 = session.tracer.counters(0);
    expect(after0.ingress.created - before0.ingress.created).toBe(50);
    expect(after0.egress.unmatched - before0.egress.unmatched).toBe(0);
    const k = session.tracer.counters(c1.index);
    expect(k.egress.packets).toBeGreaterThanOrEqual(50);
    expect(k.ingress.packets).toBeGreaterThanOrEqual(50);
  });

  it('traces IPv6 ping', async () => {
    take();
    const p = await ping(c1.name, lab.target.ip6, { count: 20, intervalS: 0.02 });
    await settle();
    const recs = take().filter((r) => r.proto === ICMP6);
    expect(p.received).toBe(20);
    expect(recs.every((r) => r.family === 6 && r.netns === c1.inode)).toBe(true);
    expect(recs.filter((r) => r.dir === 'egress').length).toBe(20);
    expect(recs.filter((r) => r.dir === 'ingress').length).toBe(20);
    for (const r of recs) expect(r.stack + r.virt).toBe(r.total);
  });

  it('traces UDP both ways and TCP data and acks, for the traced container only', async () => {
    const server = await startIperfServer(lab.target.name, { port: 5301 });
    try {
      take();
      await iperfClient(c1.name, lab.target.ip4, { udp: true, seconds: 2, bitrate: '2M', port: 5301 });
      await iperfClient(c1.name, lab.target.ip4, { udp: true, seconds: 2, bitrate: '2M', port: 5301, reverse: true });
      await iperfClient(c2.name, lab.target.ip4, { udp: true, seconds: 1, bitrate: '2M', port: 5301 });
      await settle();
      const udp = take();
      expect(udp.some((r) => r.netns === c2.inode)).toBe(false);
      const ue = udp.filter((r) => r.proto === UDP && r.dir === 'egress');
      const ui = udp.filter((r) => r.proto === UDP && r.dir === 'ingress');
      // 2 Mbit/s of 1448-byte datagrams for 2 s is ~345 per direction.
      expect(ue.length).toBeGreaterThan(300);
      expect(ui.length).toBeGreaterThan(300);
      // UDP sends pass all three stages; received datagrams reach the socket
      // where the kernel has sock_recv_length (6.3+), else end at the device.
      expect(ue.filter((r) => !Number.isNaN(r.stack) && !Number.isNaN(r.virt)).length).toBeGreaterThan(300);
      if (session.tracer.features.includes('socket-ingress-udp:sock_recv_length')) {
        expect(ui.filter((r) => !Number.isNaN(r.stack) && !Number.isNaN(r.virt)).length).toBeGreaterThan(300);
      } else {
        expect(ui.filter((r) => Number.isNaN(r.stack) && !Number.isNaN(r.virt)).length).toBeGreaterThan(300);
      }

      await iperfClient(c1.name, lab.target.ip4, { seconds: 2, port: 5301, bitrate: '20M' });
      await settle();
      const tcp = take().filter((r) => r.proto === TCP);
      expect(tcp.every((r) => r.netns === c1.inode)).toBe(true);
      expect(tcp.filter((r) => r.dir === 'egress').length).toBeGreaterThan(100);
      expect(tcp.filter((r) => r.dir === 'ingress').length).toBeGreaterThan(50); // acks
      for (const r of [...udp, ...tcp]) {
        expect(r.total).toBeGreaterThan(0);
        expect(r.total).toBeLessThan(1e9);
        if (!Number.isNaN(r.stack) && !Number.isNaN(r.virt)) expect(r.stack + r.virt).toBe(r.total);
      }
    } finally {
      await server.stop();
    }
  });

  it('covers >= 99% of 1000 pings at 10 ms in each direction', async () => {
    take();
    const before = session.tracer.counters(c1.index);
    const p = await ping(c1.name, lab.target.ip4, { count: 1000, intervalS: 0.01 });
    await settle();
    const recs = take().filter((r) => r.proto === ICMP);
    const after = session.tracer.counters(c1.index);
    const egress = recs.filter((r) => r.dir === 'egress').length;
    const ingress = recs.filter((r) => r.dir === 'ingress').length;
    console.log(`coverage: sent ${p.sent}, received ${p.received}, egress records ${egress}, ingress records ${ingress}; ` +
      `unmatched ${after.egress.unmatched - before.egress.unmatched}/${after.ingress.unmatched - before.ingress.unmatched}, ` +
      `lost ${after.egress.lost - before.egress.lost}/${after.ingress.lost - before.ingress.lost}`);
    expect(egress / p.sent).toBeGreaterThanOrEqual(0.99);
    expect(ingress / p.received).toBeGreaterThanOrEqual(0.99);
    // Counters agree with what arrived in user space.
    expect(after.egress.events - before.egress.events).toBe(egress);
    expect(after.ingress.events - before.ingress.events).toBe(ingress);
    expect(after.egress.lost - before.egress.lost).toBe(0);
  });
});
