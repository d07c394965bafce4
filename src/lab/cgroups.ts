// cgroups.ts - the lab's containers get a cgroup each, as a runtime would
// give them (<cgroup2>/macebpf/<netns name>, host/cgroup.ts): the traffic
// the lab starts in a container runs in it (exec.ts netnsArgv), and the
// egress socket stage attaches there. Removed with the lab.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroup2Mount, NETNS_CGROUP_PARENT, netnsCgroup } from '../host/cgroup';
import { sleep } from './exec';

/** Creates the cgroup of each named netns; without cgroup2 there are none (the socket stage then has no egress UDP/ICMP part). */
export function createNetnsCgroups(names: readonly string[]): void {
  const root = cgroup2Mount();
  if (!root) return;
  for (const name of names) fs.mkdirSync(path.join(root, NETNS_CGROUP_PARENT, name), { recursive: true });
}

/** Kills what still runs in a netns's cgroup (started by the lab) and removes it. */
export async function removeNetnsCgroup(name: string): Promise<void> {
  const dir = netnsCgroup(name);
  if (!dir) return;
  const procs = (): number[] => fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (let tries = 0; procs().length > 0; tries++) {
    if (tries >= 100) throw new Error(`lab: processes ${procs().join(', ')} in cgroup ${dir} do not end`);
    for (const pid of procs()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await sleep(20);
  }
  fs.rmdirSync(dir);
  try {
    fs.rmdirSync(path.dirname(dir)); // the parent, once no lab uses it
  } catch {
    /* another lab's cgroups are still there */
  }
}
