// qdisc.ts - the EDT enforcement backend (DESIGN §3). EDT needs an fq qdisc on
// the shaped device to pace packets by skb->tstamp. Whether the kernel has
// sch_fq is probed, never assumed: in a throwaway netns, on its loopback.
// Without it, limits run in policing mode (short horizon, drops counted).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { NetnsRef } from './netns';
import { nsExecSync } from './nsexec';

export type LimitMode = 'fq' | 'police';

let fqProbe: boolean | undefined;

export function kernelHasFq(): boolean {
  if (fqProbe === undefined) {
    const ns = `mb-fqprobe-${randomBytes(3).toString('hex')}`;
    execFileSync('ip', ['netns', 'add', ns], { stdio: 'ignore' });
    try {
      execFileSync('tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'fq'], { stdio: 'ignore' });
      fqProbe = true;
    } catch {
      fqProbe = false;
    } finally {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
  }
  return fqProbe;
}

interface QdiscInfo {
  kind: string;
  root?: boolean;
}

const DEFAULT_ROOT_QDISCS = new Set(['noqueue', 'pfifo_fast', 'mq', 'fq_codel']);

/**
 * Installs fq as the root qdisc of dev; returns what restores the device.
 * Only a default root qdisc is replaced (deleting fq brings the default
 * back): macebpf does not take over a qdisc someone configured.
 */
export function installFq(netns: NetnsRef, dev: string): () => void {
  let shown: string;
  try {
    shown = nsExecSync(netns, 'tc', ['-j', 'qdisc', 'show', 'dev', dev]);
  } catch (err) {
    // The same words as the attach's error where there is no fq (native/limit.cc).
    if (/Cannot find device/.test((err as Error).message)) {
      throw new Error(`no interface "${dev}" in netns ${netns.label}: pass --dev with one of its interfaces`);
    }
    throw err;
  }
  const qdiscs = JSON.parse(shown || '[]') as QdiscInfo[];
  const root = qdiscs.find((q) => q.root);
  if (root && !DEFAULT_ROOT_QDISCS.has(root.kind)) {
    throw new Error(`${dev} in netns ${netns.label} has root qdisc ${root.kind}; macebpf only replaces a default one with fq: remove it (tc qdisc del dev ${dev} root) or limit another device`);
  }
  nsExecSync(netns, 'tc', ['qdisc', 'replace', 'dev', dev, 'root', 'fq']);
  return () => {
    nsExecSync(netns, 'tc', ['qdisc', 'del', 'dev', dev, 'root']);
  };
}

const GSO_MAX_BYTES = 65536; // one GSO packet can be this large on veth
const FQ_HORIZON_NS = 2e9; // fq paces; the horizon only bounds the queue (as Cilium)
const POLICE_MIN_HORIZON_NS = 200e6; // measured: shorter bursts collapse TCP (docs/rate-limit.md)

/**
 * Default horizon. Policing has no queue, so the horizon is the burst a
 * container may send ahead of its rate. It must cover several maximal GSO
 * packets (a dropped one loses ~45 segments at once) and TCP's window
 * swings; 200 ms kept TCP at 93-96% of limits from 10 Mbit/s to 1 Gbit/s.
 */
export function defaultHorizonNs(mode: LimitMode, rateBytesPerSec: number): number {
  if (mode === 'fq') return FQ_HORIZON_NS;
  return Math.max(POLICE_MIN_HORIZON_NS, (4 * GSO_MAX_BYTES * 1e9) / rateBytesPerSec);
}
