/*
 * Lab topology (DESIGN §7): everything lives in network namespaces this module
 * creates; the root namespace is never touched. <id> is a per-run suffix
 * (6 random hex chars by default), <n> a per-lab subnet number (1..254).
 *
 *   mb-<id>-c1            mb-<id>-c2                (… cN)   "containers"
 *   eth0 198.18.<n>.11    eth0 198.18.<n>.12
 *        fd00:18:<n>::11        fd00:18:<n>::12
 *   default via .1 / ::1  default via .1 / ::1
 *     |                     |
 *     | veth                | veth
 *  +--|---------------------|-------------------------------------+
 *  | veth-c1             veth-c2        mb-<id>-host  ("host")     |
 *  |    \                  /            ipv4+ipv6 forwarding on    |
 *  |     br0  198.18.<n>.1/24, fd00:18:<n>::1/64   (like docker0)  |
 *  |       |  routed, then masquerade in nft table inet macebpf_lab|
 *  |     up0  198.19.<n>.1/30, fd00:19:<n>::1/64   = OUTER DEVICE  |
 *  |          default route via the target (so `--outer` = up0)    |
 *  +--|------------------------------------------------------------+
 *     | veth
 *   eth0 198.19.<n>.2/30, fd00:19:<n>::2/64        mb-<id>-tgt ("target")
 *   no route to 198.18.<n>.0/24 or fd00:18:<n>::/64: replies to the
 *   containers only work because the host masquerades them.
 *
 * IPv6 mirrors IPv4: fd00:18:<n>::/64 ↔ 198.18.<n>.0/24 and fd00:19:<n>::/64 ↔
 * 198.19.<n>.0/30 (<n> written in decimal digits inside a hex group), so
 * labs with different <n> never overlap. <n> is derived from the id and
 * skips values used by other recorded labs; overlap would be harmless anyway
 * because every lab is in its own namespaces. DAD is off (accept_dad=0 and
 * `nodad`), so IPv6 addresses work at once.
 *
 * State: /run/macebpf/labs/<id>.json holds the Lab object. It is written
 * *before* any namespace is created, so a namespace `mb-<id>-*` without a state
 * file is always an orphan. reapLabs() removes (a) labs whose owner process
 * (ownerPid != 0) is dead or whose pid was recycled (start time differs) and
 * (b) `mb-<id>-{host,tgt,cN}` namespaces with no state file whose netns file
 * is older than orphanAgeS (default 60 s). ownerPid 0 = persistent lab
 * (`macebpf lab up`), only removed by labDown(). Callers that start a lab
 * (demo, lab up, tests) should call reapLabs() first.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { createNetnsCgroups, removeNetnsCgroup } from './cgroups';
import { ipn, nsExec, run, sleep } from './exec';
import {
  LAB_ID_RE,
  hasState,
  ownerAlive,
  processStartTime,
  readState,
  removeState,
  stateAgeS,
  stateIds,
  writeState,
} from './state';
import type { Lab, LabContainer } from './types';
import { shapeUplink, type Bottleneck } from './bottleneck';

export { LAB_STATE_DIR } from './state';
export type { Lab, LabContainer } from './types';

export interface LabUpOptions {
  /** number of container namespaces, default 2 (1..100) */
  containers?: number;
  /** lab id ([a-z0-9]{1,12}); default 6 random hex chars */
  id?: string;
  /** owner pid, default process.pid; 0 = persistent (macebpf lab up) */
  ownerPid?: number;
  /** shape the uplink (outer device) into a shared bottleneck (bottleneck.ts) */
  uplink?: Bottleneck;
}

export const NAT_TABLE = 'macebpf_lab';
const NS_PREFIX = 'mb-';
const NS_RE = /^mb-([a-z0-9]{1,12})-(host|tgt|c\d+)$/;

function nsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Names of existing network namespaces (`ip netns list`). */
export async function netnsList(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

function labNamespaces(lab: Lab): string[] {
  return [lab.host.name, ...lab.containers.map((c) => c.name), lab.target.name];
}

function pickSubnet(id: string): number {
  const used = new Set(
    stateIds()
      .map((i) => readState(i)?.subnet)
      .filter((s): s is number => s !== undefined),
  );
  let h = 0;
  for (const ch of id) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const start = h % 254;
  for (let k = 0; k < 254; k++) {
    const n = ((start + k) % 254) + 1;
    if (!used.has(n)) return n;
  }
  return start + 1; // all in use: overlap is harmless (separate namespaces)
}

function describe(id: string, n: number, count: number, ownerPid: number): Lab {
  const ns = (s: string): string => `${NS_PREFIX}${id}-${s}`;
  const containers: LabContainer[] = [];
  for (let i = 1; i <= count; i++) {
    const name = ns(`c${i}`);
    containers.push({ name, path: nsPath(name), dev: 'eth0', ip4: `198.18.${n}.${10 + i}`, ip6: `fd00:18:${n}::${10 + i}` });
  }
  const host = ns('host');
  const tgt = ns('tgt');
  const lab: Lab = {
    id,
    host: {
      name: host,
      path: nsPath(host),
      bridge: 'br0',
      uplink: 'up0',
      ip4: `198.18.${n}.1`,
      ip6: `fd00:18:${n}::1`,
      uplinkIp4: `198.19.${n}.1`,
      uplinkIp6: `fd00:19:${n}::1`,
    },
    containers,
    target: { name: tgt, path: nsPath(tgt), dev: 'eth0', ip4: `198.19.${n}.2`, ip6: `fd00:19:${n}::2` },
    ownerPid,
    subnet: n,
    createdAt: new Date().toISOString(),
  };
  const start = ownerPid > 0 ? processStartTime(ownerPid) : undefined;
  if (start !== undefined) lab.ownerStartTime = start;
  return lab;
}

async function sysctl(ns: string, settings: string[]): Promise<void> {
  await nsExec(ns, 'sysctl', ['-q', '-w', ...settings]);
}

function natRules(lab: Lab): string {
  const n = lab.subnet;
  return [
    `table inet ${NAT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    oifname "${lab.host.uplink}" ip saddr 198.18.${n}.0/24 counter masquerade comment "macebpf-lab-v4"`,
    `    oifname "${lab.host.uplink}" ip6 saddr fd00:18:${n}::/64 counter masquerade comment "macebpf-lab-v6"`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Ping until one reply arrives or the deadline passes. */
async function waitReachable(ns: string, target: string, deadlineMs: number): Promise<void> {
  const v6 = target.includes(':');
  let last: unknown;
  while (Date.now() < deadlineMs) {
    try {
      await nsExec(ns, 'ping', ['-n', '-q', ...(v6 ? ['-6'] : []), '-c', '1', '-W', '0.5', target], { timeoutMs: 5000 });
      return;
    } catch (e) {
      last = e;
      await sleep(50);
    }
  }
  throw new Error(`lab: ${target} not reachable from ${ns}: ${last instanceof Error ? last.message : String(last)}`);
}

async function build(lab: Lab): Promise<void> {
  const { host, target, containers } = lab;
  const all = labNamespaces(lab);
  for (const ns of all) await run('ip', ['netns', 'add', ns]);
  createNetnsCgroups(containers.map((c) => c.name));
  await Promise.all(
    all.map(async (ns) => {
      // before any link exists, so new links inherit "no DAD"
      await sysctl(ns, ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
      await ipn(ns, ['link', 'set', 'lo', 'up']);
    }),
  );
  await sysctl(host.name, ['net.ipv4.conf.all.forwarding=1', 'net.ipv6.conf.all.forwarding=1']);

  // bridge
  await ipn(host.name, ['link', 'add', host.bridge, 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', 'mcast_snooping', '0']);
  await ipn(host.name, ['addr', 'add', `${host.ip4}/24`, 'dev', host.bridge]);
  await ipn(host.name, ['-6', 'addr', 'add', `${host.ip6}/64`, 'dev', host.bridge, 'nodad']);
  await ipn(host.name, ['link', 'set', host.bridge, 'up']);

  // containers
  for (const [k, c] of containers.entries()) {
    const hostSide = `veth-c${k + 1}`;
    await ipn(host.name, ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', c.dev, 'netns', c.name]);
    await ipn(host.name, ['link', 'set', hostSide, 'master', host.bridge, 'up']);
    await ipn(c.name, ['addr', 'add', `${c.ip4}/24`, 'dev', c.dev]);
    await ipn(c.name, ['-6', 'addr', 'add', `${c.ip6}/64`, 'dev', c.dev, 'nodad']);
    await ipn(c.name, ['link', 'set', c.dev, 'up']);
    await ipn(c.name, ['route', 'add', 'default', 'via', host.ip4, 'dev', c.dev]);
    await ipn(c.name, ['-6', 'route', 'add', 'default', 'via', host.ip6, 'dev', c.dev]);
  }

  // uplink (outer device) to the target
  await ipn(host.name, ['link', 'add', host.uplink, 'type', 'veth', 'peer', 'name', target.dev, 'netns', target.name]);
  await ipn(host.name, ['addr', 'add', `${host.uplinkIp4}/30`, 'dev', host.uplink]);
  await ipn(host.name, ['-6', 'addr', 'add', `${host.uplinkIp6}/64`, 'dev', host.uplink, 'nodad']);
  await ipn(host.name, ['link', 'set', host.uplink, 'up']);
  await ipn(target.name, ['addr', 'add', `${target.ip4}/30`, 'dev', target.dev]);
  await ipn(target.name, ['-6', 'addr', 'add', `${target.ip6}/64`, 'dev', target.dev, 'nodad']);
  await ipn(target.name, ['link', 'set', target.dev, 'up']);
  await ipn(host.name, ['route', 'add', 'default', 'via', target.ip4, 'dev', host.uplink]);
  await ipn(host.name, ['-6', 'route', 'add', 'default', 'via', target.ip6, 'dev', host.uplink]);

  // masquerade
  await nsExec(host.name, 'nft', ['-f', '-'], { input: natRules(lab) });

  // usable: host → target, then every container → target (v4 and v6, via NAT)
  const deadline = Date.now() + 15_000;
  await Promise.all([waitReachable(host.name, target.ip4, deadline), waitReachable(host.name, target.ip6, deadline)]);
  await Promise.all(
    containers.flatMap((c) => [waitReachable(c.name, target.ip4, deadline), waitReachable(c.name, target.ip6, deadline)]),
  );
}

/** Build a lab; on any failure everything already created is removed again. */
export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const count = opts.containers ?? 2;
  if (!Number.isInteger(count) || count < 1 || count > 100) throw new Error(`labUp: containers must be 1..100, got ${count}`);
  const ownerPid = opts.ownerPid ?? process.pid;
  if (!Number.isInteger(ownerPid) || ownerPid < 0) throw new Error(`labUp: bad ownerPid ${ownerPid}`);
  const existing = new Set(await netnsList());
  const taken = (id: string): boolean => hasState(id) || [...existing].some((ns) => ns.startsWith(`${NS_PREFIX}${id}-`));
  let id = opts.id;
  if (id !== undefined) {
    if (!LAB_ID_RE.test(id)) throw new Error(`labUp: lab id must match ${LAB_ID_RE}, got ${JSON.stringify(id)}`);
    if (taken(id)) throw new Error(`labUp: lab ${id} already exists`);
  } else {
    do id = randomBytes(3).toString('hex');
    while (taken(id));
  }
  const lab = describe(id, pickSubnet(id), count, ownerPid);
  writeState(lab); // first: a mb-<id>-* netns without state is then always an orphan
  try {
    await build(lab);
    if (opts.uplink) await shapeUplink(lab, opts.uplink);
  } catch (e) {
    await labDown(lab).catch(() => undefined);
    throw e;
  }
  return lab;
}

/**
 * Remove a lab's namespaces (their veths, bridge and nft table go with them)
 * and its state file. Idempotent; already-gone parts are not errors.
 * Processes still running inside the lab's namespaces were started by
 * macebpf (traffic of a demo or test, perhaps one that was SIGKILLed): they
 * are killed by pid first, or the namespaces would linger.
 */
export async function labDown(lab: Lab | string): Promise<void> {
  const id = typeof lab === 'string' ? lab : lab.id;
  if (!LAB_ID_RE.test(id)) throw new Error(`labDown: bad lab id ${JSON.stringify(id)}`);
  const known = typeof lab === 'string' ? readState(id) : lab;
  const names = new Set(known ? labNamespaces(known) : []);
  for (const ns of await netnsList()) if (ns.startsWith(`${NS_PREFIX}${id}-`)) names.add(ns);
  const failures: string[] = [];
  for (const ns of names) {
    try {
      await removeNetnsCgroup(ns);
    } catch (e) {
      failures.push(e instanceof Error ? e.message : String(e));
    }
    if (!fs.existsSync(nsPath(ns))) continue;
    await killNetnsProcesses(ns);
    try {
      await run('ip', ['netns', 'del', ns]);
    } catch (e) {
      if (fs.existsSync(nsPath(ns))) failures.push(e instanceof Error ? e.message : String(e));
    }
  }
  if (failures.length > 0) throw new Error(`labDown ${id}: ${failures.join('\n')}`);
  removeState(id);
}

async function killNetnsProcesses(ns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** All labs with a readable state file. */
export function listLabs(): Lab[] {
  return stateIds()
    .map((id) => readState(id))
    .filter((l): l is Lab => l !== undefined);
}

/**
 * Remove labs whose owner died, and orphaned `mb-<id>-*` namespaces (no state
 * file) older than orphanAgeS. Returns the removed lab ids.
 */
export async function reapLabs(opts: { orphanAgeS?: number } = {}): Promise<string[]> {
  const orphanAgeS = opts.orphanAgeS ?? 60;
  const dead = new Set<string>();
  for (const id of stateIds()) {
    const lab = readState(id);
    if (lab ? !ownerAlive(lab) : (stateAgeS(id) ?? 0) > orphanAgeS) dead.add(id); // unreadable: orphan rules
  }
  const now = Date.now();
  for (const ns of await netnsList()) {
    const m = NS_RE.exec(ns);
    if (!m || hasState(m[1] as string)) continue;
    try {
      const st = fs.statSync(nsPath(ns));
      if ((now - st.ctimeMs) / 1000 >= orphanAgeS) dead.add(m[1] as string);
    } catch {
      /* gone meanwhile */
    }
  }
  const removed: string[] = [];
  for (const id of dead) {
    await labDown(id);
    removed.push(id);
  }
  return removed;
}

/** Packet/byte counters of the lab's masquerade rules (host netns). */
export async function natCounters(lab: Lab): Promise<{ v4: { packets: number; bytes: number }; v6: { packets: number; bytes: number } }> {
  const { stdout } = await nsExec(lab.host.name, 'nft', ['-j', 'list', 'table', 'inet', NAT_TABLE]);
  const out = { v4: { packets: 0, bytes: 0 }, v6: { packets: 0, bytes: 0 } };
  const doc = JSON.parse(stdout) as { nftables: Array<{ rule?: { comment?: string; expr?: Array<{ counter?: { packets: number; bytes: number } }> } }> };
  for (const item of doc.nftables) {
    const r = item.rule;
    if (!r) continue;
    const counter = r.expr?.find((e) => e.counter)?.counter;
    if (!counter) continue;
    const slot = r.comment === 'macebpf-lab-v6' ? out.v6 : r.comment === 'macebpf-lab-v4' ? out.v4 : undefined;
    if (slot) {
      slot.packets += counter.packets;
      slot.bytes += counter.bytes;
    }
  }
  return out;
}
