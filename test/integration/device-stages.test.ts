// Where the ingress device stages run (docs/measurement.md, "Which hook gives
// each stage"): with tcx, mb_tc_rx on the traced containers' devices and the
// outer device only, counted by the kernel's own run accounting; a device
// added to a traced netns later is found; untrace lets go; without tcx the
// netif_receive_skb tracepoint path still records both device stages.
// Root only; with CI=true it must run. The tcx tests exist on kernels with
// tcx and the cast kfuncs (by version: test/support/kernel.ts), the fallback test
// on all; the matrix runs this file in its guests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGRESS, type RecordColumns } from '../../src/core/records';
import { resolveIface } from '../../src/host/iface';
import { resolveNetns, type NetnsRef } from '../../src/host/netns';
import { Tracing } from '../../src/host/tracing';
import { ipn, run } from '../../src/lab/exec';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { killAllTraffic, ping } from '../../src/lab/traffic';
import { isRoot, skipUnlessRoot } from '../support/root';
import { deadlineMs } from '../support/timing';
import { hasCastKfuncs, hasTcx } from '../support/kernel';

const PINGS = 100;
// ARP/ND and the like that may arrive on the same devices meanwhile.
const SLACK = 12;

// Whether this kernel takes the tcx path, known apart from macebpf's own
// probe. A path the kernel cannot take is no test here (not a skip).
const itTcx = hasTcx() && hasCastKfuncs() ? it : (): void => undefined;

/** Runs of program `name` while work runs (kernel run counts; BPF_ENABLE_STATS is on). */
async function runsDuring(t: Tracing, name: string, work: () => Promise<unknown>): Promise<number> {
  const count = (): number => t.tracer.progStats().filter((p) => p.name === name).reduce((a, p) => a + p.runCount, 0);
  const before = count();
  await work();
  return count() - before;
}

function ingressRecords(got: RecordColumns[], container: number): { n: number; withBoth: number } {
  let n = 0;
  let withBoth = 0;
  for (const c of got) {
    for (let i = 0; i < c.length; i++) {
      if (c.dir[i] !== INGRESS || c.container[i] !== container || c.proto[i] !== 1) continue;
      n++;
      if (Number.isFinite(c.stackNs[i]) && Number.isFinite(c.virtNs[i])) withBoth++;
    }
  }
  return { n, withBoth };
}

describe.skipIf(skipUnlessRoot)('ingress device stages: where they run (root, real kernel, lab)', () => {
  let lab: Lab;
  let c1: NetnsRef;
  let extraNs: string | undefined;

  beforeAll(async () => {
    if (!isRoot) throw new Error('device-stage tests need root (CI=true: they must run, not skip)');
    await reapLabs();
    lab = await labUp({ containers: 2 });
    c1 = resolveNetns(lab.containers[0].name);
  });

  afterAll(async () => {
    killAllTraffic();
    // Deleting the netns deletes mbx1 and with it its peer in c1.
    if (extraNs) await run('ip', ['netns', 'del', extraNs]).catch(() => undefined);
    if (lab) await labDown(lab);
  });

  itTcx('with tcx: runs on the traced container\'s and the outer device only, and lets go on untrace', async () => {
    const t = new Tracing({});
    const got: RecordColumns[] = [];
    try {
      t.tracer.enableStats();
      t.on('records', (cols) => got.push(cols));
      t.tracer.addOuter(resolveIface(resolveNetns(lab.host.name), lab.host.uplink));
      const index = t.trace(c1).index;
      expect(t.tracer.features).toContain('device-ingress:tcx');
      const pings = (name: string) => () => ping(name, lab.target.ip4, { count: PINGS, intervalS: 0.005 });
      // c2, untraced: its replies cross the outer device (1 run each) and its own
      // devices, the bridge and the target's device (none).
      const untraced = await runsDuring(t, 'mb_tc_rx', pings(lab.containers[1].name));
      // c1, traced: the outer device and c1's eth0.
      const traced = await runsDuring(t, 'mb_tc_rx', pings(lab.containers[0].name));
      await new Promise((r) => setTimeout(r, 300));
      const rec = ingressRecords(got, index);
      t.untrace(c1);
      const after = await runsDuring(t, 'mb_tc_rx', pings(lab.containers[0].name));
      console.log(`mb_tc_rx runs per ${PINGS} pings: untraced c2 ${untraced}, traced c1 ${traced}, c1 after untrace ${after}; c1 ingress records ${rec.n} (${rec.withBoth} with stack and virt)`);
      expect(untraced).toBeGreaterThanOrEqual(PINGS);
      expect(untraced).toBeLessThanOrEqual(PINGS + SLACK);
      expect(traced).toBeGreaterThanOrEqual(2 * PINGS);
      expect(traced).toBeLessThanOrEqual(2 * PINGS + SLACK);
      expect(after).toBeLessThanOrEqual(PINGS + SLACK);
      expect(rec.n).toBe(PINGS);
      expect(rec.withBoth).toBe(PINGS);
    } finally {
      await t.close();
    }
  });

  itTcx('a device added to a traced netns after trace() gets the stage within the refresh period', async () => {
    const t = new Tracing({});
    try {
      const index = t.trace(c1).index;
      expect(t.tracer.features).toContain('device-ingress:tcx');
      // A second link of c1 to a netns of its own, made after trace().
      const n = lab.target.ip4.split('.')[2];
      extraNs = `${lab.containers[0].name}-x`;
      await run('ip', ['netns', 'add', extraNs]);
      await run('ip', ['link', 'add', 'mbx0', 'netns', lab.containers[0].name, 'type', 'veth', 'peer', 'name', 'mbx1', 'netns', extraNs]);
      await ipn(lab.containers[0].name, ['addr', 'add', `198.19.${n}.5/30`, 'dev', 'mbx0']);
      await ipn(extraNs, ['addr', 'add', `198.19.${n}.6/30`, 'dev', 'mbx1']);
      await ipn(lab.containers[0].name, ['link', 'set', 'mbx0', 'up']);
      await ipn(extraNs, ['link', 'set', 'mbx1', 'up']);
      await new Promise((r) => setTimeout(r, deadlineMs(2500))); // > the 1 s refresh, with room
      const rx = (): number => t.tracer.counters(index).ingress.packets;
      const before = rx();
      const p = await ping(lab.containers[0].name, `198.19.${n}.6`, { count: 20, intervalS: 0.01 });
      expect(p.received).toBe(20);
      const got = rx() - before;
      console.log(`added device: ${got} packets counted at c1's devices for 20 replies`);
      // net_rx_packets counts at the container's devices: only an attached stage sees the replies.
      expect(got).toBeGreaterThanOrEqual(20);
    } finally {
      await t.close();
    }
  });

  it('a traced netns that is deleted goes, devices and all: the tracer holds nothing inside it', async () => {
    const gone = `${lab.containers[0].name}-gone`;
    const peerNs = `${lab.containers[0].name}-peer`;
    await run('ip', ['netns', 'add', gone]);
    await run('ip', ['netns', 'add', peerNs]);
    const t = new Tracing({});
    try {
      await run('ip', ['link', 'add', 'mbg0', 'netns', gone, 'type', 'veth', 'peer', 'name', 'mbg1', 'netns', peerNs]);
      await ipn(gone, ['link', 'set', 'mbg0', 'up']);
      t.trace(resolveNetns(gone));
      await new Promise((r) => setTimeout(r, deadlineMs(1500))); // a refresh while it exists
      await run('ip', ['netns', 'del', gone]);
      // The veth pair goes with its netns: the peer's end disappears too.
      const end = Date.now() + deadlineMs(10_000);
      let links = '';
      for (;;) {
        links = (await ipn(peerNs, ['-o', 'link', 'show'])).stdout;
        if (!links.includes('mbg1') || Date.now() > end) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, deadlineMs(1500))); // a refresh after: the missing path is no error
      expect(links).not.toContain('mbg1');
    } finally {
      await t.close();
      await run('ip', ['netns', 'del', gone]).catch(() => undefined);
      await run('ip', ['netns', 'del', peerNs]).catch(() => undefined);
    }
  });

  it('without tcx: the netif_receive_skb path records ingress through both device stages', async () => {
    const t = new Tracing({ disable: ['tcx'] });
    const got: RecordColumns[] = [];
    try {
      t.on('records', (cols) => got.push(cols));
      t.tracer.addOuter(resolveIface(resolveNetns(lab.host.name), lab.host.uplink));
      const index = t.trace(c1).index;
      expect(t.tracer.features).toContain('device-ingress:netif_receive_skb');
      const p = await ping(lab.containers[0].name, lab.target.ip4, { count: 20, intervalS: 0.01 });
      expect(p.received).toBe(20);
      await new Promise((r) => setTimeout(r, 300));
      const rec = ingressRecords(got, index);
      expect(rec.n).toBe(20);
      expect(rec.withBoth).toBe(20);
    } finally {
      await t.close();
    }
  });
});
