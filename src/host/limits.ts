// limits.ts - the EDT egress limits this process holds (DESIGN §3), kept in
// user space as well as in the kernel: which device, rate, horizon and mode,
// and how to put the device back. The BPF side is the tracer's EDT program.
import { backlogNs, bwLimitStatistics, decodeLimitState, type BwLimitStatistics, type LimitSample, type LimitState } from '../core/limit-state';
import type { LimitView } from '../core/protocol';
import { formatRate } from '../core/units';
import { loadAddon } from './addon';
import { monotonicNs } from './clock';
import { GsoCap } from './gso';
import { defaultRouteIface } from './iface';
import type { NetnsRef } from './netns';
import { defaultHorizonNs, installFq, kernelHasFq, type LimitMode } from './qdisc';
import type { Tracer } from './tracer';

export interface LimitRequest {
  rateBytesPerSec: number;
  horizonNs?: number; // default: the current limit's, else defaultHorizonNs(mode, rate)
  dev?: string; // default: the device of the container's default route
}

export interface HeldLimit extends LimitView {
  netns: NetnsRef;
  restore?: () => void; // puts the device's qdisc back (fq mode)
  gso?: GsoCap; // the device's burst bound (fq mode, gso.ts)
}

export interface LimitReading {
  view: Omit<LimitView, 'dev'> & { dev?: string };
  stats: BwLimitStatistics;
  state: LimitState;
  backlogNs: number;
  own: boolean; // held by this process
}

/** The container has a limit another process holds. */
export class LimitHeldElsewhere extends Error {}

export class Limits {
  private readonly held = new Map<number, HeldLimit>();

  constructor(private readonly tracer: Tracer) {}

  /** Backend of this kernel: pacing with fq, or policing without sch_fq. */
  get mode(): LimitMode {
    return kernelHasFq() ? 'fq' : 'police';
  }

  /** Sets or changes a container's limit; a change keeps the device and mode. */
  set(netns: NetnsRef, req: LimitRequest): HeldLimit {
    const old = this.held.get(netns.inode);
    const dev = old?.dev ?? req.dev ?? defaultRouteIface(netns);
    if (old && req.dev && req.dev !== old.dev) {
      throw new Error(`${netns.label} is already limited on ${old.dev}; remove that limit before limiting ${req.dev}`);
    }
    if (!old) {
      // Two limiters on one device would police each other's traffic, and
      // with fq the second would replace the first one's qdisc.
      const other = loadAddon().findLimit(netns.inode);
      if (other) throw new LimitHeldElsewhere(`${netns.label} already has a limit of ${formatRate(other.rate)} held by another macebpf process (\`macebpf limit\` or \`serve\`); remove it there first`);
    }
    const mode = old?.mode ?? this.mode;
    // A change of rate alone keeps the horizon the limit has.
    const horizonNs = req.horizonNs ?? old?.horizon_ns ?? defaultHorizonNs(mode, req.rateBytesPerSec);
    const restore = old ? old.restore : mode === 'fq' ? installFq(netns, dev) : undefined;
    let gso = old?.gso;
    try {
      if (mode === 'fq') {
        gso ??= new GsoCap(netns, dev);
        gso.set(req.rateBytesPerSec);
      }
      this.tracer.limit(netns, dev, req.rateBytesPerSec, horizonNs, mode === 'fq');
    } catch (err) {
      if (!old) {
        if (gso?.segs) gso.restore();
        restore?.();
      }
      throw err;
    }
    const limit: HeldLimit = { netns, dev, mode, rate_bytes_per_sec: req.rateBytesPerSec, horizon_ns: horizonNs, restore, gso };
    this.held.set(netns.inode, limit);
    return limit;
  }

  get(netnsInode: number): HeldLimit | undefined {
    return this.held.get(netnsInode);
  }

  /** Removes a limit: detaches the program and restores the device. */
  remove(netnsInode: number): void {
    const l = this.held.get(netnsInode);
    if (!l) throw new Error(`netns inode ${netnsInode} has no limit held by this process`);
    this.held.delete(netnsInode);
    try {
      this.tracer.unlimit(netnsInode);
    } finally {
      try {
        l.gso?.restore();
      } finally {
        l.restore?.();
      }
    }
  }

  /** Lets go of the limit of a netns that is gone: its device and qdisc went with it, nothing to restore. */
  forget(netnsInode: number): void {
    if (!this.held.delete(netnsInode)) return;
    this.tracer.unlimit(netnsInode);
  }

  state(netnsInode: number): LimitState {
    return this.tracer.limitState(netnsInode);
  }

  /**
   * A container's limit as held by this process or, failing that, by another
   * macebpf process (`macebpf limit`, found among the kernel's maps), with
   * Mesos' bw_limit statistics. Rates cover the time since the reading kept
   * in `prev` (the caller's own, so readers do not shorten each other's interval).
   */
  read(netnsInode: number, prev: Map<number, LimitSample>): LimitReading | undefined {
    const own = this.held.get(netnsInode);
    let view: LimitReading['view'];
    let sample: LimitSample;
    if (own) {
      view = own;
      sample = { state: this.state(netnsInode), monoNs: monotonicNs() };
    } else {
      const found = loadAddon().findLimit(netnsInode);
      if (!found) return undefined;
      view = { rate_bytes_per_sec: found.rate, horizon_ns: found.horizonNs, mode: found.enforce ? 'fq' : 'police' };
      sample = { state: decodeLimitState(found.state), monoNs: monotonicNs() };
    }
    const stats = bwLimitStatistics(sample, prev.get(netnsInode), view.rate_bytes_per_sec);
    prev.set(netnsInode, sample);
    return { view, stats, state: sample.state, backlogNs: backlogNs(sample), own: own !== undefined };
  }

  /** Removes every limit (restoring devices); errors are collected, not stopped at. */
  removeAll(): void {
    const errors: string[] = [];
    for (const inode of [...this.held.keys()]) {
      try {
        this.remove(inode);
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    if (errors.length) throw new Error(`removing limits failed: ${errors.join('; ')}`);
  }
}

