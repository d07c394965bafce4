// sampler.ts - once per interval, what changed: per container and direction
// the window's quantiles, packets/s and bytes/s at the container device,
// coverage and losses; the limit's achieved rate; and the BPF programs' own
// run time per traced packet (MACE's self-overhead figure). The WebSocket
// summaries and /metrics read the latest sample; nobody else reads rates.
import { coverage, type ContainerCounters } from '../core/counters';
import type { LimitSample } from '../core/limit-state';
import type { ContainerSummary, DirectionSummary, LimitSummary } from '../core/protocol';
import { DIRECTIONS, type Direction } from '../core/records';
import type { StoredContainer } from '../core/store';
import type { ProgStats } from '../host/addon';
import type { Daemon } from './daemon';

interface Previous {
  atMs: number;
  counters: ContainerCounters;
}

const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export interface Sample {
  atMs: number;
  containers: ContainerSummary[];
  bpfNsPerPacket: number | null;
  /** cumulative run time and count per program (for /metrics) */
  programs: ProgStats[];
}

export class Sampler {
  private readonly prev = new Map<number, Previous>();
  private readonly limitPrev = new Map<number, LimitSample>();
  private prevBpf: { runTimeNs: number; packets: number } | undefined;
  latest: Sample = { atMs: Date.now(), containers: [], bpfNsPerPacket: null, programs: [] };

  constructor(private readonly daemon: Daemon) {}

  sample(): Sample {
    const nowMs = Date.now();
    const store = this.daemon.tracing.store;
    const nowT = store.tOfWallMs(nowMs);
    let packets = 0;
    const containers = store.traced.map((c) => {
      const counters = this.daemon.tracing.tracer.counters(c.index);
      packets += counters.egress.packets + counters.ingress.packets;
      const before = this.prev.get(c.netns);
      this.prev.set(c.netns, { atMs: nowMs, counters });
      return this.summary(c, counters, before, nowMs, nowT);
    });
    for (const netns of this.prev.keys()) if (!store.byNetnsInode(netns)?.traced) this.prev.delete(netns);
    const programs = this.programs();
    const runTimeNs = programs.reduce((s, p) => s + p.runTimeNs, 0);
    let bpfNsPerPacket: number | null = null;
    if (this.prevBpf && packets > this.prevBpf.packets && programs.length) {
      bpfNsPerPacket = (runTimeNs - this.prevBpf.runTimeNs) / (packets - this.prevBpf.packets);
    }
    this.prevBpf = programs.length ? { runTimeNs, packets } : undefined;
    this.latest = { atMs: nowMs, containers, bpfNsPerPacket, programs };
    return this.latest;
  }

  private programs(): ProgStats[] {
    if (!this.daemon.features.includes('bpf-run-time')) return [];
    return this.daemon.tracing.tracer.progStats();
  }

  private summary(c: StoredContainer, k: ContainerCounters, before: Previous | undefined, nowMs: number, nowT: number): ContainerSummary {
    const dt = before ? (nowMs - before.atMs) / 1000 : 0;
    const dir = (d: Direction): DirectionSummary => {
      const h = c.series[d].window.window(nowT);
      const now = k[d];
      const was = before?.counters[d];
      return {
        count: h.count,
        p50: orNull(h.quantile(0.5)),
        p90: orNull(h.quantile(0.9)),
        p99: orNull(h.quantile(0.99)),
        p999: orNull(h.quantile(0.999)),
        pps: was && dt > 0 ? (now.packets - was.packets) / dt : 0,
        bps: was && dt > 0 ? (now.bytes - was.bytes) / dt : 0,
        coverage: orNull(coverage(now)),
        lost: now.lost,
        unmatched: now.unmatched,
        stale: now.stale,
      };
    };
    return {
      container: c.label,
      netns: c.netns,
      traced: c.traced,
      directions: Object.fromEntries(DIRECTIONS.map((d) => [d, dir(d)])) as Record<Direction, DirectionSummary>,
      limit: this.limit(c),
    };
  }

  private limit(c: StoredContainer): LimitSummary | null {
    const held = this.daemon.limits.get(c.netns);
    const r = held ? this.daemon.limits.read(c.netns, this.limitPrev) : undefined;
    if (!held || !r) return null;
    return {
      rate_bytes_per_sec: held.rate_bytes_per_sec,
      horizon_ns: held.horizon_ns,
      mode: held.mode,
      dev: held.dev,
      achieved_bytes_per_sec: r.stats.ratebps,
      delayed_packets: r.state.delayed,
      drops: r.state.drops,
      backlog_bytes: r.stats.backlog,
    };
  }
}
