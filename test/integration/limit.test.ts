// Rate limits and statistics with real traffic in the lab: `macebpf limit`
// and `macebpf stats` as users run them, iperf3 TCP through bridge and NAT,
// the kernel's own interface counters as the reference. Root only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkStats, type LinkStats } from '../../src/host/iface';
import { resolveNetns } from '../../src/host/netns';
import { kernelHasFq } from '../../src/host/qdisc';
import { Limits } from '../../src/host/limits';
import { Tracing } from '../../src/host/tracing';
import { StatisticsCollector, type ContainerStatistics } from '../../src/host/statistics';
import { run } from '../../src/lab/exec';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { iperfClient, killAllTraffic, ping, startIperfServer, type IperfServer } from '../../src/lab/traffic';
import { assertBuilt, cli, killCli, until } from '../support/cli';
import { isRoot, skipUnlessRoot } from '../support/root';

const LIMIT_BITS = 100e6; // 100mbit

describe.skipIf(skipUnlessRoot)('rate limits and statistics (root, lab, iperf3)', () => {
  let lab: Lab;
  let servers: IperfServer[] = [];
  let c1: string;
  let c2: string;
  let tcState: () => Promise<string>;

  beforeAll(async () => {
    if (!isRoot) throw new Error('limit tests need root (CI=true: they must run, not skip)');
    assertBuilt();
    await reapLabs();
    lab = await labUp({ containers: 2 });
    [c1, c2] = lab.containers.map((c) => c.name);
    servers = [await startIperfServer(lab.target.name, { port: 5501 }), await startIperfServer(lab.target.name, { port: 5502 })];
    // Everything tc knows about c1's device: qdiscs and both filter hooks.
    tcState = async () =>
      (await Promise.all([
        run('tc', ['-n', c1, '-j', 'qdisc', 'show', 'dev', 'eth0']),
        run('tc', ['-n', c1, '-j', 'filter', 'show', 'dev', 'eth0', 'egress']),
        run('tc', ['-n', c1, '-j', 'filter', 'show', 'dev', 'eth0', 'ingress']),
      ])).map((r) => r.stdout).join('\n');
  });

  afterAll(async () => {
    killCli();
    for (const s of servers) await s.stop();
    killAllTraffic();
    if (lab) await labDown(lab);
  });

  it('holds a limited container to its rate, leaves the neighbour alone, and restores the device on SIGTERM', async () => {
    const before = await tcState();
    const unlimited = await iperfClient(c1, lab.target.ip4, { seconds: 2, port: 5501 });

    const limit = cli(['limit', '--netns', c1, '--rate', '100mbit']);
    await until('the limit to be in place', () => limit.stderr().includes('limiting'));
    expect(limit.stderr()).toMatch(kernelHasFq() ? /paced by fq/ : /POLICING mode: this kernel has no sch_fq/);
    const stats = cli(['stats', '--netns', c1, '--interval', '3']);
    const [limited, neighbour] = await Promise.all([
      iperfClient(c1, lab.target.ip4, { seconds: 10, port: 5501 }),
      iperfClient(c2, lab.target.ip4, { seconds: 10, port: 5502 }),
    ]);
    expect((await stats.exited).code, stats.stderr()).toBe(0);
    limit.child.kill('SIGTERM');
    expect((await limit.exited).code).toBe(143);

    const ratio = limited.bitsPerSecond / LIMIT_BITS;
    console.log(`limit 100mbit: achieved ${(limited.bitsPerSecond / 1e6).toFixed(1)} Mbit/s (ratio ${ratio.toFixed(3)}), ` +
      `unlimited ${(unlimited.bitsPerSecond / 1e6).toFixed(0)} Mbit/s, neighbour ${(neighbour.bitsPerSecond / 1e6).toFixed(0)} Mbit/s`);
    expect(ratio).toBeLessThanOrEqual(1.05);
    expect(ratio).toBeGreaterThan(0.5);
    // Not held at the limit: well above it (under the kernel matrix's TCG the
    // lab moves ~300 Mbit/s in all, so not 5x as on the reference host).
    expect(unlimited.bitsPerSecond).toBeGreaterThan(2 * LIMIT_BITS);
    expect(neighbour.bitsPerSecond).toBeGreaterThan(2 * LIMIT_BITS);
    expect(limit.stdout()).toMatch(/Mbit\/s .* drops \d+/);

    // `stats` found the limit another process holds.
    const [s] = JSON.parse(stats.stdout()) as ContainerStatistics[];
    const bw = s.statistics.net_traffic_control_statistics[0];
    expect(bw.id).toBe('bw_limit');
    expect(bw.packets).toBeGreaterThan(0);
    expect(s.statistics.macebpf_rate_limit).toMatchObject({ rate_bytes_per_sec: LIMIT_BITS / 8, mode: kernelHasFq() ? 'fq' : 'police' });

    expect(await tcState()).toBe(before);
    const after = await iperfClient(c1, lab.target.ip4, { seconds: 2, port: 5501 });
    expect(after.bitsPerSecond).toBeGreaterThan(2 * LIMIT_BITS);
  });

  it('restores the device when the command ends by itself', async () => {
    const before = await tcState();
    const limit = cli(['limit', '--netns', c1, '--rate', '37500KB', '--duration', '1']);
    expect((await limit.exited).code, limit.stderr()).toBe(0);
    expect(await tcState()).toBe(before);
  });

  it('a second limit on a container another process limits is refused, and the first one stays in force', async () => {
    const before = await tcState();
    const first = cli(['limit', '--netns', c1, '--rate', '10mbit']);
    try {
      await until('the first limit', () => /packets \d+/.test(first.stdout()), 20_000);
      const held = await tcState();
      const second = cli(['limit', '--netns', c1, '--rate', '20mbit', '--duration', '1']);
      expect((await second.exited).code, second.stderr()).toBe(1);
      expect(second.stderr()).toMatch(/already has a limit of 10\.0 Mbit\/s held by another macebpf process/);
      expect(await tcState(), 'the refused one changed nothing').toBe(held);
      expect(first.child.exitCode).toBeNull();
    } finally {
      first.child.kill('SIGTERM');
      expect((await first.exited).code, first.stderr()).toBe(143);
    }
    expect(await tcState()).toBe(before);
  });

  it('net_* counters agree with the kernel interface statistics within 1%', async () => {
    const ref = resolveNetns(c1);
    const session = new Tracing({ sockets: false });
    try {
      const collector = new StatisticsCollector(session, new Limits(session.tracer));
      session.trace(ref);
      collector.baseline(ref);
      const k0 = linkStats(ref).get('eth0') as LinkStats;
      await iperfClient(c1, lab.target.ip4, { seconds: 2, port: 5501 });
      await iperfClient(c1, lab.target.ip4, { seconds: 2, port: 5501, reverse: true });
      await ping(c1, lab.target.ip4, { count: 50, intervalS: 0.01 });
      const [s] = collector.collect();
      const k1 = linkStats(ref).get('eth0') as LinkStats;
      const close = (ours: number, kernel: number): void => {
        expect(kernel).toBeGreaterThan(0);
        expect(Math.abs(ours - kernel) / kernel).toBeLessThanOrEqual(0.01);
      };
      close(s.statistics.net_tx_bytes, k1.tx.bytes - k0.tx.bytes);
      close(s.statistics.net_tx_packets, k1.tx.packets - k0.tx.packets);
      close(s.statistics.net_rx_bytes, k1.rx.bytes - k0.rx.bytes);
      close(s.statistics.net_rx_packets, k1.rx.packets - k0.rx.packets);
      expect(s.statistics.net_rx_errors).toBe(0);
      expect(s.statistics.net_traffic_control_statistics).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('counts kernel drops of a traced container by reason', async () => {
    const ref = resolveNetns(c1);
    const session = new Tracing({ sockets: false });
    try {
      const c = session.trace(ref);
      // UDP from the neighbour to a port of c1 nobody listens on: c1's kernel drops it (no_socket).
      await run('ip', ['netns', 'exec', c2, 'bash', '-c', `for i in 1 2 3 4 5; do echo x > /dev/udp/${lab.containers[0].ip4}/9; done`]);
      await new Promise((r) => setTimeout(r, 200));
      const drops = session.tracer.drops(c.index);
      expect(drops.no_socket).toBeGreaterThanOrEqual(5);
      for (const name of Object.keys(drops)) expect(name).toMatch(/^[a-z0-9_]+$/);
    } finally {
      await session.close();
    }
  });

  it.each([
    [['limit', '--netns', 'LAB1', '--rate', '12 parsecs'], /invalid rate "12 parsecs".*37500KB.*300mbit/s],
    [['limit', '--netns', 'LAB1', '--rate', '0mbit'], /rate/],
    [['limit', '--netns', 'LAB1', '--rate', '100'], /unit is missing/],
    [['limit', '--netns', 'LAB1'], /limit needs --rate RATE/],
    [['limit', '--rate', '1mbit'], /limit needs --netns SPEC/],
    [['limit', '--netns', 'LAB1', '--rate', '1mbit', '--horizon', '0'], /invalid --horizon "0"/],
    [['limit', '--netns', 'LAB1', '--rate', '1mbit', '--horizon', '2h'], /invalid --horizon "2h"/],
    [['limit', '--netns', 'LAB1', '--rate', '1mbit', '--horizon', 'soon'], /--horizon/],
    [['limit', '--netns', 'no-such-ns-q', '--rate', '1mbit'], /no network namespace named "no-such-ns-q"/],
    [['limit', '--netns', 'LAB1', '--rate', '1mbit', '--dev', 'nope0'], /no interface "nope0"/],
    [['stats'], /stats needs at least one --netns/],
  ])('rejects %j with a specific error', async (args, message) => {
    const before = await tcState();
    const p = cli(args.map((a) => (a === 'LAB1' ? c1 : a)));
    expect((await p.exited).code).toBe(1);
    expect(p.stderr()).toMatch(message);
    expect(await tcState()).toBe(before);
  });
});
