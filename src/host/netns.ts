// Turns the user's --netns SPEC into the network namespace's inode number,
// which is how the BPF side identifies a container (DESIGN §1, §3). Every way
// this can fail gets its own message, because "ENOENT" tells nobody whether
// the pid, the name or the runtime was wrong.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cgroupOfPid, netnsCgroup } from './cgroup';

export interface NetnsRef {
  spec: string; // as the user wrote it
  path: string; // absolute path to an nsfs file for this netns (usable with nsenter --net=)
  inode: number; // netns inode number, the container's identity in BPF maps
  label: string; // short display name
  cgroup?: string; // the container's cgroup2 directory, where it has one (cgroup.ts)
}

const NETNS_DIR = '/run/netns'; // where `ip netns add` bind-mounts namespaces
const SELF = '/proc/self/ns/net';
const FORMS = 'a path (/proc/PID/ns/net, /run/netns/NAME), pid:PID, docker:NAME, podman:NAME, or an `ip netns` name';

/** Resolves a path, `pid:N`, `docker:NAME`, `podman:NAME` or `ip netns` name to its netns. */
export function resolveNetns(spec: string): NetnsRef {
  const s = spec.trim();
  if (s === '') throw new Error(`empty netns spec; use ${FORMS}`);
  if (s.startsWith('pid:')) return fromPid(spec, s.slice(4));
  const runtime = /^(docker|podman):(.*)$/.exec(s);
  if (runtime) return fromRuntime(spec, runtime[1], runtime[2]);
  const procPid = /^\/proc\/([1-9]\d*)\/ns\/net$/.exec(path.resolve(s));
  if (procPid) return fromPid(spec, procPid[1]);
  if (s.includes('/')) return open(spec, path.resolve(s), path.basename(s));
  return fromName(spec, s);
}

/** The caller's own network namespace. */
export function currentNetns(): NetnsRef {
  return open(SELF, SELF, 'current');
}

/**
 * A process's container name where its cgroup tells the runtime
 * (docker-ID.scope, /docker/ID, libpod-ID, cri-containerd-ID), else pid:N.
 */
export function pidLabel(pid: string): string {
  let cgroup = '';
  try {
    cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return `pid:${pid}`;
  }
  const m = /(docker|libpod|cri-containerd|crio)[-/]([0-9a-f]{12,64})/.exec(cgroup);
  if (!m) return `pid:${pid}`;
  const runtime = m[1] === 'libpod' ? 'podman' : m[1] === 'docker' ? 'docker' : 'cri';
  return `${runtime}:${m[2].slice(0, 12)}`;
}

function fromPid(spec: string, pid: string, label = pidLabel(pid)): NetnsRef {
  if (!/^[1-9]\d*$/.test(pid)) {
    throw new Error(`malformed pid in netns spec ${JSON.stringify(spec)}: expected pid:N with N a process id, e.g. pid:1234`);
  }
  if (!fs.existsSync(`/proc/${pid}`)) {
    throw new Error(`no such process ${pid} (netns spec ${JSON.stringify(spec)}): check the pid with \`ps -p ${pid}\``);
  }
  // A runtime's container has a cgroup of its own; any other process's
  // cgroup (a login session, a service) is shared with unrelated processes.
  const cgroup = label === `pid:${pid}` ? undefined : cgroupOfPid(pid);
  return { ...open(spec, `/proc/${pid}/ns/net`, label), cgroup };
}

function fromName(spec: string, name: string): NetnsRef {
  const p = path.join(NETNS_DIR, name);
  if (name === '.' || name === '..' || !fs.existsSync(p)) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(NETNS_DIR).sort();
    } catch {
      // no /run/netns: no `ip netns` namespace was ever created
    }
    const existing = names.length ? `existing: ${names.join(', ')}` : `there are none in ${NETNS_DIR}`;
    throw new Error(
      `no network namespace named ${JSON.stringify(name)} (${existing}); create it with \`ip netns add ${name}\` or use ${FORMS}`,
    );
  }
  return { ...open(spec, p, name), cgroup: netnsCgroup(name) };
}

// Asks the container runtime for the container's init pid.
function fromRuntime(spec: string, cli: string, name: string): NetnsRef {
  if (name === '') throw new Error(`netns spec ${JSON.stringify(spec)} has no container name; use ${cli}:NAME`);
  let out: string;
  try {
    out = execFileSync(cli, ['inspect', '-f', '{{.State.Pid}}', name], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string; signal?: string };
    if (e.code === 'ENOENT') {
      throw new Error(`netns spec ${JSON.stringify(spec)} needs the ${cli} CLI, which is not installed (not on PATH); use pid:N of a process in the container instead`);
    }
    const why = e.stderr?.trim() || (e.signal ? `killed by ${e.signal} (timed out after 10 s?)` : e.message);
    throw new Error(`\`${cli} inspect ${name}\` failed for netns spec ${JSON.stringify(spec)}: ${why}`);
  }
  const pid = out.trim();
  if (pid === '0') throw new Error(`container ${JSON.stringify(name)} is not running (netns spec ${JSON.stringify(spec)}); start it first`);
  if (!/^[1-9]\d*$/.test(pid)) throw new Error(`\`${cli} inspect ${name}\` printed ${JSON.stringify(pid)}, not a pid`);
  return fromPid(spec, pid, name);
}

/**
 * Whether a traced netns is still there: its path still names the same
 * namespace. A container that ended took it away (`ip netns del`, the
 * process of /proc/PID/ns/net exited), or the name now means another one.
 * One stat, so a caller can ask every second.
 */
export function netnsPresent(ref: NetnsRef): boolean {
  try {
    return fs.statSync(ref.path).ino === ref.inode;
  } catch {
    return false;
  }
}

// Stats the nsfs file and checks that it really is a network namespace.
function open(spec: string, p: string, label: string): NetnsRef {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new Error(`permission denied reading ${p} (netns spec ${JSON.stringify(spec)}): run as root (CAP_SYS_ADMIN, and CAP_SYS_PTRACE for another user's process)`);
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new Error(`${p} does not exist (netns spec ${JSON.stringify(spec)}); use ${FORMS}`);
    }
    throw new Error(`cannot stat ${p} (netns spec ${JSON.stringify(spec)}): ${(err as Error).message}`);
  }
  // All namespace files live on the nsfs pseudo-filesystem, one device.
  const nsfs = st.dev === fs.statSync(SELF).dev;
  const type = nsfs ? nsType(p, st.ino) : null;
  if (type !== 'net') {
    const what = type ? `a ${type} namespace` : nsfs ? 'a namespace file of unknown type' : st.isDirectory() ? 'a directory' : st.isFile() ? 'a regular file' : 'not a namespace file';
    throw new Error(`${p} is ${what}, not a network namespace (netns spec ${JSON.stringify(spec)}); use /proc/PID/ns/net or /run/netns/NAME`);
  }
  return { spec, path: p, inode: st.ino, label };
}

// Namespace type of an nsfs file: /proc/PID/ns/* are symlinks to "net:[INODE]";
// bind mounts (ip netns) show the same text as their root in mountinfo. Only
// a positive identification as "net" is accepted.
function nsType(p: string, ino: number): string | null {
  try {
    const m = /^(\w+):\[\d+\]$/.exec(fs.readlinkSync(p));
    if (m) return m[1];
  } catch {
    // not a symlink: look for a bind mount
  }
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const m = /^(\w+):\[(\d+)\]$/.exec(line.split(' ')[3] ?? '');
    if (m && Number(m[2]) === ino) return m[1];
  }
  return null;
}
