// Lab topology and traffic generators against the real kernel (root only).
// Without root the suite is skipped, except with CI=true where it must run
// and therefore fails.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/lab/exec';
import { stateFile } from '../../src/lab/state';
import { labDown, labUp, listLabs, natCounters, netnsList, reapLabs, type Lab } from '../../src/lab/topology';
import { parsePing } from '../../src/core/ping-output';
import { iperfClient, killAllTraffic, ping, startIperfServer, type IperfServer } from '../../src/lab/traffic';
import { isRoot, skipUnlessRoot } from '../support/root';


const nsOf = (id: string, all: string[]): string[] => all.filter((n) => n.startsWith(`mb-${id}-`));

describe('parsePing', () => {
  it('reads per-reply lines and the summary, skipping duplicates', () => {
    const out = [
      'PING 198.19.1.2 (198.19.1.2) 56(84) bytes of data.',
      '64 bytes from 198.19.1.2: icmp_seq=1 ttl=63 time=0.075 ms',
      '64 bytes from 198.19.1.2: icmp_seq=1 ttl=63 time=0.9 ms (DUP!)',
      '64 bytes from 198.19.1.2: icmp_seq=3 ttl=63 time=1.25 ms',
      '',
      '--- 198.19.1.2 ping statistics ---',
      '3 packets transmitted, 2 received, +1 duplicates, 33.3333% packet loss, time 2ms',
    ].join('\n');
    const r = parsePing(out);
    expect(r.sent).toBe(3);
    expect(r.received).toBe(2);
    expect([...r.rttsMs]).toEqual([
      [1, 0.075],
      [3, 1.25],
    ]);
  });
});

describe.skipIf(skipUnlessRoot)('lab (root, real namespaces)', () => {
  const made = new Set<string>(); // every lab id this suite may have created
  const servers: IperfServer[] = [];
  let lab: Lab;

  beforeAll(async () => {
    if (!isRoot) throw new Error('lab integration tests need root (CI=true: they must run, not skip)');
    lab = await labUp({ containers: 2 });
    made.add(lab.id);
  }, 60_000);

  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
    killAllTraffic();
  });

  afterAll(async () => {
    killAllTraffic();
    for (const id of made) await labDown(id);
    const left = await netnsList();
    for (const id of made) expect(nsOf(id, left)).toEqual([]);
  }, 60_000);

  it('builds host, containers and target with the documented layout', async () => {
    const all = await netnsList();
    expect(nsOf(lab.id, all).sort()).toEqual([lab.host.name, ...lab.containers.map((c) => c.name), lab.target.name].sort());
    expect(lab.containers.map((c) => c.name)).toEqual([`mb-${lab.id}-c1`, `mb-${lab.id}-c2`]);
    for (const c of lab.containers) {
      expect(fs.existsSync(c.path)).toBe(true);
      const { stdout } = await run('ip', ['-n', c.name, '-j', 'addr', 'show', 'dev', 'eth0']);
      const addrs = (JSON.parse(stdout) as Array<{ addr_info: Array<{ local: string }> }>)[0]!.addr_info.map((a) => a.local);
      expect(addrs).toContain(c.ip4);
      expect(addrs).toContain(c.ip6);
    }
    // the outer device is the host netns' default-route device
    const { stdout: r4 } = await run('ip', ['-n', lab.host.name, 'route', 'show', 'default']);
    expect(r4).toContain(`dev ${lab.host.uplink}`);
    // the state file holds the Lab object
    expect(JSON.parse(fs.readFileSync(stateFile(lab.id), 'utf8'))).toEqual(lab);
    expect(listLabs().find((l) => l.id === lab.id)).toEqual(lab);
    expect(lab.ownerPid).toBe(process.pid);
  });

  it('target has no route back to the container subnet', async () => {
    for (const addr of [lab.containers[0]!.ip4, lab.containers[0]!.ip6]) {
      await expect(run('ip', ['-n', lab.target.name, 'route', 'get', addr])).rejects.toThrow(/unreachable/i);
    }
  });

  it('pings the target over v4 and v6 from both containers, through masquerade', async () => {
    const before = await natCounters(lab);
    for (const c of lab.containers) {
      for (const dst of [lab.target.ip4, lab.target.ip6]) {
        const r = await ping(c.name, dst, { count: 5, intervalS: 0.05 });
        expect(r.sent).toBe(5);
        expect(r.received).toBe(5);
        expect([...r.rttsMs.keys()].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
        for (const ms of r.rttsMs.values()) {
          expect(ms).toBeGreaterThan(0);
          expect(ms).toBeLessThan(200);
        }
      }
    }
    const after = await natCounters(lab);
    // one new conntrack flow per ping run hits the masquerade rule
    expect(after.v4.packets - before.v4.packets).toBeGreaterThanOrEqual(lab.containers.length);
    expect(after.v6.packets - before.v6.packets).toBeGreaterThanOrEqual(lab.containers.length);
  }, 60_000);

  it('flood ping keeps per-sequence RTTs', async () => {
    const r = await ping(lab.containers[1]!.name, lab.target.ip4, { count: 300, intervalS: 0, flood: true, size: 64 });
    expect(r.sent).toBe(300);
    expect(r.received).toBeGreaterThanOrEqual(295);
    expect(r.rttsMs.size).toBe(r.received);
  }, 30_000);

  it('runs TCP and UDP iperf from c1 to the target; the target sees the NAT address', async () => {
    const srv = await startIperfServer(lab.target.name, { port: 5301 });
    servers.push(srv);
    expect(srv.pid).toBeGreaterThan(0);
    const c1 = lab.containers[0]!.name;

    const tcp = await iperfClient(c1, lab.target.ip4, { seconds: 1, port: srv.port });
    expect(tcp.bytes).toBeGreaterThan(0);
    expect(tcp.bitsPerSecond).toBeGreaterThan(1e6);

    const udp = await iperfClient(c1, lab.target.ip4, { udp: true, seconds: 1, bitrate: '10M', port: srv.port });
    expect(udp.bitsPerSecond).toBeGreaterThan(5e6);
    expect(udp.bitsPerSecond).toBeLessThan(15e6);
    expect(udp.packets).toBeGreaterThan(0);
    expect(udp.lostPackets! / udp.packets!).toBeLessThan(0.1);

    const tcp6 = await iperfClient(c1, lab.target.ip6, { seconds: 1, port: srv.port });
    expect(tcp6.bytes).toBeGreaterThan(0);

    const log = srv.output();
    expect(log).toContain(`Accepted connection from ${lab.host.uplinkIp4}`);
    expect(log).toContain(`Accepted connection from ${lab.host.uplinkIp6}`);
    expect(log).not.toContain(lab.containers[0]!.ip4);

    await srv.stop();
    expect(() => process.kill(srv.pid, 0)).toThrow();
  }, 60_000);

  it('a failing client reports the command and its error', async () => {
    await expect(iperfClient(lab.containers[0]!.name, lab.target.ip4, { seconds: 1, port: 5399 })).rejects.toThrow(
      /iperf3 -c .*5399[\s\S]*refused/,
    );
  }, 30_000);

  it('parallel labs get distinct ids and subnets; labDown removes everything and is idempotent', async () => {
    const [a, b] = await Promise.all([labUp({ containers: 1 }), labUp({ containers: 1 })]);
    made.add(a.id);
    made.add(b.id);
    expect(a.id).not.toBe(b.id);
    expect(a.subnet).not.toBe(lab.subnet);
    expect((await ping(a.containers[0]!.name, a.target.ip4, { count: 1, intervalS: 0.2 })).received).toBe(1);
    expect((await ping(b.containers[0]!.name, b.target.ip6, { count: 1, intervalS: 0.2 })).received).toBe(1);

    await labDown(a);
    await labDown(b.id);
    const all = await netnsList();
    expect(nsOf(a.id, all)).toEqual([]);
    expect(nsOf(b.id, all)).toEqual([]);
    expect(fs.existsSync(stateFile(a.id))).toBe(false);
    expect(fs.existsSync(stateFile(b.id))).toBe(false);
    await expect(labDown(a)).resolves.toBeUndefined();
    await expect(labDown(b.id)).resolves.toBeUndefined();
    // the main lab is untouched
    expect(nsOf(lab.id, all)).toHaveLength(4);
  }, 60_000);

  it('reapLabs removes a lab whose owner died and keeps live and persistent ones', async () => {
    const child = spawn('true');
    const deadPid = child.pid!;
    await new Promise((r) => child.once('exit', r));
    const dead = await labUp({ containers: 1, ownerPid: deadPid });
    made.add(dead.id);
    const persistent = await labUp({ containers: 1, ownerPid: 0 });
    made.add(persistent.id);
    expect(listLabs().map((l) => l.id)).toEqual(expect.arrayContaining([dead.id, persistent.id, lab.id]));

    const removed = await reapLabs();
    expect(removed).toContain(dead.id);
    expect(removed).not.toContain(persistent.id);
    expect(removed).not.toContain(lab.id);
    const all = await netnsList();
    expect(nsOf(dead.id, all)).toEqual([]);
    expect(fs.existsSync(stateFile(dead.id))).toBe(false);
    expect(nsOf(persistent.id, all)).toHaveLength(3);
    expect(nsOf(lab.id, all)).toHaveLength(4);
    await labDown(persistent);
  }, 60_000);

  it('reapLabs removes orphaned mb-<id>-* namespaces without state only once they are old', async () => {
    const id = `zz${randomBytes(3).toString('hex')}`;
    made.add(id);
    await run('ip', ['netns', 'add', `mb-${id}-host`]);
    expect(await reapLabs()).not.toContain(id); // younger than 60 s
    expect(nsOf(id, await netnsList())).toHaveLength(1);
    expect(await reapLabs({ orphanAgeS: 0 })).toContain(id);
    expect(nsOf(id, await netnsList())).toEqual([]);
  }, 30_000);
});
