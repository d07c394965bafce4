// discover.ts - network namespaces that could be traced: `ip netns` names
// (lab containers among them), and running docker/podman containers where
// those runtimes are installed. Bounded in time: a hung runtime CLI must not
// hang the daemon's /api/containers.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import type { Candidate } from '../core/protocol';

const RUNTIME_TIMEOUT_MS = 3000;
// The lab's container namespaces (src/lab/topology.ts names them so).
const LAB_CONTAINER = /^mb-[a-z0-9]{1,12}-c\d+$/;

// A runtime's answer is reused this long, and one in progress is shared:
// every open dashboard asks every few seconds, and a runtime CLI costs tens
// of ms of CPU on the host being measured. /run/netns is read every time.
const RUNTIME_CACHE_MS = 5000;
const runtimeCache = new Map<string, { atMs: number; names: Promise<string[]> }>();

function runtimeNames(cli: 'docker' | 'podman'): Promise<string[]> {
  const hit = runtimeCache.get(cli);
  if (hit && Date.now() - hit.atMs < RUNTIME_CACHE_MS) return hit.names;
  const names = new Promise<string[]>((resolve) => {
    execFile(cli, ['ps', '--format', '{{.Names}}'], { timeout: RUNTIME_TIMEOUT_MS, encoding: 'utf8' }, (err, out) => {
      resolve(err ? [] : out.split('\n').map((s) => s.trim()).filter(Boolean));
    });
  });
  runtimeCache.set(cli, { atMs: Date.now(), names });
  return names;
}

/**
 * The candidates, less the `ip netns` names of the namespaces in exclude
 * (inodes: those already known, the outer device's).
 */
export async function discoverNamespaces(exclude: ReadonlySet<number> = new Set()): Promise<Candidate[]> {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/run/netns').sort();
  } catch {
    // none was ever created
  }
  names = names.filter((n) => {
    try {
      return !exclude.has(fs.statSync(`/run/netns/${n}`).ino);
    } catch {
      return false; // deleted meanwhile, or not a namespace one can open
    }
  });
  const [docker, podman] = await Promise.all([runtimeNames('docker'), runtimeNames('podman')]);
  return [
    ...names.map((n): Candidate => ({ spec: n, source: LAB_CONTAINER.test(n) ? 'lab' : 'ip-netns' })),
    ...docker.map((n): Candidate => ({ spec: `docker:${n}`, source: 'docker' })),
    ...podman.map((n): Candidate => ({ spec: `podman:${n}`, source: 'podman' })),
  ];
}
