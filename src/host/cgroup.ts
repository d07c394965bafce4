// cgroup.ts - a container's cgroup (cgroup v2), where the egress socket stage
// attaches (docs/measurement.md). Runtimes give every container one; the
// lab gives its containers <cgroup2>/macebpf/<netns name>, and any named
// netns whose processes live in that cgroup is treated the same way.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Parent of the cgroups of named network namespaces (the lab's convention). */
export const NETNS_CGROUP_PARENT = 'macebpf';

let mount: string | null | undefined;

/** Where cgroup2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts); null without one. */
export function cgroup2Mount(): string | null {
  if (mount === undefined) {
    mount = null;
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const [pre, post] = line.split(' - ');
      if (post?.startsWith('cgroup2 ')) {
        mount = pre.split(' ')[4];
        break;
      }
    }
  }
  return mount;
}

/** The cgroup2 directory of a process, or undefined (no cgroup2, the root, or gone). */
export function cgroupOfPid(pid: string): string | undefined {
  const root = cgroup2Mount();
  if (!root) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const rel = /^0::(\/.*)$/m.exec(text)?.[1];
  return rel && rel !== '/' ? path.join(root, rel) : undefined;
}

/** The cgroup of a named netns (<cgroup2>/macebpf/NAME), if it exists. */
export function netnsCgroup(name: string): string | undefined {
  const root = cgroup2Mount();
  const dir = root && path.join(root, NETNS_CGROUP_PARENT, name);
  return dir && fs.existsSync(dir) ? dir : undefined;
}

/**
 * The command line that runs file in cgroup (when given) from its first
 * instruction: a shell moves itself into the cgroup and execs, as a runtime
 * starts a container's process, so no packet is sent from outside it.
 */
export function inCgroup(cgroup: string | undefined, file: string, argv: readonly string[]): [string, string[]] {
  if (!cgroup) return [file, [...argv]];
  return ['sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', cgroup, file, ...argv]];
}
