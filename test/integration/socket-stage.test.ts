// The socket stage is scoped to the traced containers (docs/measurement.md):
// its egress program sits on the container's cgroup only, while traced, and
// a process in the container's netns but outside its cgroup gets no egress
// socket stage, while the lab's own traffic (run in the cgroup) does. Root
// only; real kernel, lab, UDP.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EGRESS, type RecordColumns } from '../../src/core/records';
import { resolveIface } from '../../src/host/iface';
import { resolveNetns, type NetnsRef } from '../../src/host/netns';
import { Tracing } from '../../src/host/tracing';
import { nsExec, run, sleep } from '../../src/lab/exec';
import { leftoverPrograms, ourProgramIds } from '../support/bpf';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { killAllTraffic } from '../../src/lab/traffic';
import { isRoot, skipUnlessRoot } from '../support/root';

const UDP = 17;

/** n UDP datagrams with distinct payloads from ns, in its cgroup (as the lab runs traffic) or outside it. */
async function sendUdp(ns: string, target: string, n: number, inCgroup: boolean): Promise<void> {
  const script = `for i in $(seq 1 ${n}); do echo "macebpf socket stage $i" > /dev/udp/${target}/9; done`;
  if (inCgroup) await nsExec(ns, 'bash', ['-c', script]);
  else await run('ip', ['netns', 'exec', ns, 'bash', '-c', script]);
}

/** Names of the BPF programs attached to a cgroup (egress hook). */
function cgroupPrograms(dir: string): string[] {
  const rows = JSON.parse(execFileSync('bpftool', ['cgroup', 'show', dir, '-j'], { encoding: 'utf8' }).trim() || '[]') as { name?: string }[];
  return rows.map((r) => r.name ?? '');
}

describe.skipIf(skipUnlessRoot)('socket stage scoped to traced containers', () => {
  let lab: Lab;
  let t: Tracing;
  let c1: NetnsRef;
  let c2: NetnsRef;
  const got: RecordColumns[] = [];
  let before: Set<number>;

  beforeAll(async () => {
    if (!isRoot) throw new Error('socket-stage tests need root (CI=true: they must run, not skip)');
    await reapLabs();
    lab = await labUp({ containers: 2 });
    [c1, c2] = lab.containers.map((c) => resolveNetns(c.name));
    before = await ourProgramIds();
    t = new Tracing();
    t.tracer.addOuter(resolveIface(resolveNetns(lab.host.name), lab.host.uplink));
    t.on('records', (cols) => got.push(cols));
  });

  afterAll(async () => {
    await t?.close();
    killAllTraffic();
    if (lab) await labDown(lab);
  });

  /** UDP egress records of c1 since the last call: [all, with the socket stage]. */
  async function udpEgress(): Promise<[number, number]> {
    await sleep(300); // the poller's periodic drain
    let n = 0;
    let s = 0;
    for (const c of got.splice(0)) {
      for (let i = 0; i < c.length; i++) {
        if (c.proto[i] !== UDP || c.dir[i] !== EGRESS || c.netns[i] !== c1.inode) continue;
        n++;
        if (Number.isFinite(c.stackNs[i])) s++;
      }
    }
    return [n, s];
  }

  it('resolves the lab containers to their cgroups and attaches only to the traced one, only while traced', () => {
    expect(c1.cgroup).toMatch(/\/macebpf\/mb-[0-9a-f]+-c1$/);
    expect(c2.cgroup).toMatch(/\/macebpf\/mb-[0-9a-f]+-c2$/);
    expect(cgroupPrograms(c1.cgroup!)).toEqual([]);
    t.trace(c1);
    expect(cgroupPrograms(c1.cgroup!)).toEqual(['mb_cg_egress']);
    expect(cgroupPrograms(c2.cgroup!)).toEqual([]);
    t.untrace(c1);
    expect(cgroupPrograms(c1.cgroup!)).toEqual([]);
    t.trace(c1);
    expect(cgroupPrograms(c1.cgroup!)).toEqual(['mb_cg_egress']);
  });

  it("stamps the egress socket stage for the container's cgroup, not for its netns", async () => {
    await udpEgress();
    // In the cgroup, as the lab (and a runtime) runs a container's processes.
    await sendUdp(lab.containers[0].name, lab.target.ip4, 20, true);
    const [inN, inS] = await udpEgress();
    // The same netns from outside the cgroup: same packets, no socket stage.
    await sendUdp(lab.containers[0].name, lab.target.ip4, 20, false);
    const [outN, outS] = await udpEgress();
    console.log(`UDP egress records: in the cgroup ${inS}/${inN} with stack, outside it ${outS}/${outN}`);
    expect(inN).toBe(20);
    expect(inS).toBe(20);
    expect(outN).toBe(20);
    expect(outS).toBe(0);
  });

  it('detaches from the cgroup when the tracer closes', async () => {
    await t.close();
    expect(cgroupPrograms(c1.cgroup!)).toEqual([]);
    expect(await leftoverPrograms(process.pid, before)).toEqual([]);
  });
});
