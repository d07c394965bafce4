// stack + virt = total, held to stage times observed by something other
// than macebpf: a bpftrace script stamps, per ICMP sequence, the echo request
// at the container device and at the outer device (net_dev_start_xmit) and
// the reply's arrival at the outer device and at the container device
// (netif_rx: both are veth, and ping has timestamps on, so macebpf's
// ingress device stages are the kernel's receive timestamps taken there,
// docs/measurement.md) with its own programs on the classic tracepoints and
// its own clock reads (bpf_ktime_get_ns, the records' clock), plus ping's
// sendto entry and recvmsg exit. Each record's stage times (its first stage,
// + stack, + virt) must lie at those instants; egress S, ping's own payload
// stamp, between its previous sendto and this one. Root only; with CI=true it must run.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECTIONS, RX_TSTAMP, S_FROM_SENDER, type RecordColumns } from '../../src/core/records';
import { resolveIface } from '../../src/host/iface';
import { resolveNetns, type NetnsRef } from '../../src/host/netns';
import { Tracer } from '../../src/host/tracer';
import { netnsArgv, sleep, track } from '../../src/lab/exec';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { killAllTraffic, ping } from '../../src/lab/traffic';
import { startBpftrace, type Bpftrace } from '../support/bpftrace';
import { isRoot, skipUnlessRoot } from '../support/root';
import { runTimeToleranceNs } from '../support/timing';

const ICMP = 1;

/**
 * The observer: IPv4 ICMP echo packets on the devices of the container's
 * netns and on the outer device, identified by netns inode and name; the L3
 * header is at head + network_header on transmit and at data on receive.
 * Lines: `X|R netns icmp_type seq ktime`, `SE ktime` (ping's sendto entry),
 * `RX ktime` (ping's recvmsg returned data).
 */
function observerScript(container: number, host: number, outer: string): string {
  const body = (l3: string, tag: string): string => `
  $skb = (struct sk_buff *)args->skbaddr;
  $ns = $skb->dev->nd_net.net->ns.inum;
  if ($ns == ${container} || ($ns == ${host} && str(args->name) == "${outer}")) {
    $ip = ${l3};
    if (*(uint8 *)$ip == 0x45 && *(uint8 *)($ip + 9) == 1) {
      printf("${tag} %u %u %u %llu\\n", $ns, *(uint8 *)($ip + 20), (*(uint8 *)($ip + 26) << 8) | *(uint8 *)($ip + 27), nsecs);
    }
  }`;
  const ping = `comm == "ping" && curtask->nsproxy->net_ns->ns.inum == ${container}`;
  return `
tracepoint:net:net_dev_start_xmit {${body('$skb->head + $skb->network_header', 'X')}
}
tracepoint:net:netif_rx {${body('$skb->data', 'R')}
}
tracepoint:raw_syscalls:sys_enter / args->id == 44 && ${ping} / {
  printf("SE %llu\\n", nsecs);
}
tracepoint:raw_syscalls:sys_exit / args->id == 47 && args->ret > 0 && ${ping} / {
  printf("RX %llu\\n", nsecs);
}
`;
}

interface Seen {
  egressD: Map<number, number>;
  egressO: Map<number, number>;
  ingressO: Map<number, number>;
  ingressD: Map<number, number>;
  sendEnter: number[];
  recvExit: number[];
}

function parseSeen(text: string, container: number, host: number): Seen {
  const s: Seen = { egressD: new Map(), egressO: new Map(), ingressO: new Map(), ingressD: new Map(), sendEnter: [], recvExit: [] };
  for (const line of text.split('\n')) {
    const f = line.trim().split(' ');
    if (f[0] === 'SE') s.sendEnter.push(Number(f[1]));
    else if (f[0] === 'RX') s.recvExit.push(Number(f[1]));
    else if ((f[0] === 'X' || f[0] === 'R') && f.length === 5) {
      const [ns, type, seq, t] = f.slice(1).map(Number) as [number, number, number, number];
      const map =
        f[0] === 'X' && type === 8 ? (ns === container ? s.egressD : ns === host ? s.egressO : undefined)
        : f[0] === 'R' && type === 0 ? (ns === host ? s.ingressO : ns === container ? s.ingressD : undefined)
        : undefined;
      if (map && !map.has(seq)) map.set(seq, t);
    }
  }
  return s;
}

describe.skipIf(skipUnlessRoot)('stage times against an independent observer (root, real kernel, lab, bpftrace)', () => {
  let lab: Lab;
  let c1: NetnsRef;
  let host: NetnsRef;
  let tracer: Tracer | undefined;
  let observer: Bpftrace | undefined;

  beforeAll(async () => {
    if (!isRoot) throw new Error('stage-time integration tests need root (CI=true: they must run, not skip)');
    await reapLabs();
    lab = await labUp({ containers: 1 });
    c1 = resolveNetns(lab.containers[0].name);
    host = resolveNetns(lab.host.name);
    // The kernel turns receive timestamps on for the whole host while any
    // socket asks for them, but only after a deferred work item has run
    // (net_enable_timestamp): the first replies of a fresh ping process can
    // arrive unstamped, and then macebpf rightly uses its own clock read
    // (docs/measurement.md). A ping on the target's loopback, alive for the
    // whole test, keeps them on, so every record's ingress stages must be the
    // kernel's stamps. killAllTraffic ends it by its pid.
    const [cmd, args] = netnsArgv(lab.target.name, 'ping', ['-n', '-q', '-i', '1', '127.0.0.1']);
    track(spawn(cmd, args, { stdio: 'ignore' }));
    await sleep(500);
  });

  afterAll(async () => {
    await observer?.stop();
    await tracer?.close();
    killAllTraffic();
    if (lab) await labDown(lab);
  });

  it('every ping record\'s stages lie at the times bpftrace saw, so stack, virt and total are the real parts', async () => {
    const recs: { ts: number; dir: string; proto: number; netns: number; total: number; stack: number; virt: number; id: number; stages: number }[] = [];
    tracer = new Tracer();
    tracer.addOuter(resolveIface(host, lab.host.uplink));
    tracer.trace(c1);
    tracer.on('batch', (cols: RecordColumns) => {
      for (let i = 0; i < cols.length; i++) {
        recs.push({ ts: cols.tsNs[i], dir: DIRECTIONS[cols.dir[i]], proto: cols.proto[i], netns: cols.netns[i], total: cols.totalNs[i], stack: cols.stackNs[i], virt: cols.virtNs[i], id: cols.packetId[i], stages: cols.stages[i] });
      }
    });
    observer = await startBpftrace(observerScript(c1.inode, host.inode, lab.host.uplink));
    // BEGIN may run before the other probes are attached: wait until a ping is seen.
    const end = Date.now() + 15_000;
    while (!/^R \d+ 0 /m.test(observer.output())) {
      if (Date.now() > end) throw new Error(`bpftrace saw no ping: ${observer.output()}`);
      await ping(c1.label, lab.target.ip4, { count: 1, intervalS: 0.2 });
    }
    await sleep(300);
    const from = observer.output().length;
    recs.length = 0;

    const N = 50;
    const p = await ping(c1.label, lab.target.ip4, { count: N, intervalS: 0.02 });
    await sleep(300);
    const seen = parseSeen((await observer.stop()).slice(from), c1.inode, host.inode);
    expect(p.received).toBe(N);

    const egress = new Map(recs.filter((r) => r.proto === ICMP && r.dir === 'egress' && r.netns === c1.inode).map((r) => [r.id, r]));
    const ingress = new Map(recs.filter((r) => r.proto === ICMP && r.dir === 'ingress' && r.netns === c1.inode).map((r) => [r.id, r]));
    // bpftrace (0.17: classic tracepoints only) stamps a hit after macebpf's
    // tp_btf program, which runs straight from the tracepoint, has run and the
    // perf record of the hit was filled: its stamps lag the true instant by
    // 3–9 µs on this VM (measured: device stages ~3.5 µs, sys_enter 5–9 µs).
    // So (a) a part between two hits of one tracepoint is compared directly,
    // the lag cancels: within PART_TOL (p99 measured 8 µs: allowed for 2% of checks); (b) each stage of a record must lie in
    // [observer − LAG, observer]; ping's sendto entry and recvmsg exit bound
    // the socket stage, wherever inside those calls it is hooked.
    // Both are the observer's running time: slower machines (the kernel
    // matrix's emulated guests) widen them.
    const PART_TOL = runTimeToleranceNs(5_000);
    const LAG = runTimeToleranceNs(15_000);
    const parts: number[] = [];
    const lags: number[] = [];
    const off: string[] = [];
    let checks = 0;
    const part = (what: string, seq: number, mine: number, theirs: number): void => {
      checks++;
      parts.push(Math.abs(mine - theirs));
      if (Math.abs(mine - theirs) > PART_TOL) off.push(`${what} of seq ${seq}: record ${mine} ns, bpftrace ${theirs} ns`);
    };
    const at = (what: string, seq: number, mine: number, lo: number, hi: number): void => {
      checks++;
      if (!(mine >= lo - LAG && mine <= hi)) off.push(`${what} of seq ${seq}: ${mine - hi} ns from the observed instant (window ${hi - lo + LAG} ns)`);
    };
    const lastBefore = (xs: number[], t: number): number => Math.max(...xs.filter((x) => x <= t));
    const firstAfter = (xs: number[], t: number): number => Math.min(...xs.filter((x) => x >= t));
    for (const seq of p.rttsMs.keys()) {
      const e = egress.get(seq);
      const i = ingress.get(seq);
      expect(e, `egress record of icmp_seq ${seq}`).toBeDefined();
      expect(i, `ingress record of icmp_seq ${seq}`).toBeDefined();
      expect(Number.isNaN(e!.stack) || Number.isNaN(e!.virt) || Number.isNaN(i!.stack) || Number.isNaN(i!.virt), `all parts of icmp_seq ${seq}`).toBe(false);
      const [eD, eO, iO, iD] = [seen.egressD.get(seq), seen.egressO.get(seq), seen.ingressO.get(seq), seen.ingressD.get(seq)];
      expect([eD, eO, iO, iD].every((t) => t !== undefined), `bpftrace saw all four device stages of icmp_seq ${seq}`).toBe(true);
      // Egress: S = ts, D = S + stack, O = S + total.
      part('egress virt (O − D)', seq, e!.virt, eO! - eD!);
      // S of an echo request is ping's own payload stamp, taken before its
      // sendto (long before, when ping is preempted in between) and after
      // its previous one.
      expect(e!.stages & S_FROM_SENDER, `egress S of icmp_seq ${seq} from ping's payload`).toBe(S_FROM_SENDER);
      const send = lastBefore(seen.sendEnter, eD!);
      at('egress S', seq, e!.ts, lastBefore(seen.sendEnter, send - 1), send);
      at('egress D', seq, e!.ts + e!.stack, eD!, eD!);
      at('egress O', seq, e!.ts + e!.total, eO!, eO!);
      lags.push(eD! - (e!.ts + e!.stack), eO! - (e!.ts + e!.total));
      // Ingress: O = ts, D = O + virt, S = O + total; ping has receive
      // timestamps on, so O and D are the kernel's stamps at netif_rx.
      expect(i!.stages & RX_TSTAMP, `ingress device stages of icmp_seq ${seq} from receive timestamps`).toBe(RX_TSTAMP);
      part('ingress virt (D − O)', seq, i!.virt, iD! - iO!);
      at('ingress O', seq, i!.ts, iO!, iO!);
      at('ingress D', seq, i!.ts + i!.virt, iD!, iD!);
      at('ingress S', seq, i!.ts + i!.total, iD!, firstAfter(seen.recvExit, iD!));
      lags.push(iO! - i!.ts, iD! - (i!.ts + i!.virt));
    }
    const q = (xs: number[], f: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * f))]!;
    console.log(`record vs bpftrace: |virt − observed| median ${q(parts, 0.5)} ns, p99 ${q(parts, 0.99)} ns; ` +
      `observer lag at the device stages median ${q(lags, 0.5)} ns, min ${q(lags, 0)} ns, p99 ${q(lags, 0.99)} ns; ${off.length} of ${checks} checks off`);
    // An interrupt may land between the two programs now and then: allow 2%.
    expect(off.length, off.join('\n')).toBeLessThanOrEqual(Math.floor(checks / 50));
  });
});
