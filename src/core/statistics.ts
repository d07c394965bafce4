// statistics.ts - per-container statistics in the shape of Mesos'
// /monitor/statistics.json (DESIGN §5): net_* counters, the bw_limit entry of
// net_traffic_control_statistics, plus macebpf's latency quantiles, coverage
// and drop reasons. All counters cover the time since the collector started.
import { loadAddon } from './addon';
import { coverage } from './counters';
import { linkStats, type LinkStats } from './iface';
import { backlogNs, bwLimitStatistics, decodeLimitState, type BwLimitStatistics, type LimitSample } from './limit-state';
import type { LimitMode } from './qdisc';
import { DIRECTIONS, type Direction } from './records';
import type { TracedContainer, TraceSession } from './session';

export interface Quantiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

export interface RateLimitInfo {
  rate_bytes_per_sec: number;
  horizon_ns: number;
  mode: LimitMode;
  backlog_ns: number; // how far the last departure time is ahead of now
  delayed_packets: number;
  delay_ns_total: number; // sum over passed packets of departure - arrival
  horizon_drop_bytes: number;
}

export interface ContainerStatistics {
  container: string;
  netns: number;
  statistics: {
    timestamp: number; // seconds since the epoch, as Mesos
    net_rx_bytes: number;
    net_rx_packets: number;
    net_rx_dropped: number;
    net_rx_errors: number;
    net_tx_bytes: number;
    net_tx_packets: number;
    net_tx_dropped: number;
    net_tx_errors: number;
    net_traffic_control_statistics: BwLimitStatistics[];
    macebpf_latency_ns: Record<Direction, Quantiles>;
    macebpf_coverage: Record<Direction, number | null>;
    macebpf_lost: number;
    macebpf_drop_reasons: Record<string, number>;
    macebpf_rate_limit: RateLimitInfo | null;
  };
}

type Totals = { dropped: number; errors: number };
const sumLinks = (stats: Map<string, LinkStats>, dir: 'rx' | 'tx'): Totals =>
  [...stats.values()].reduce((t, s) => ({ dropped: t.dropped + s[dir].dropped, errors: t.errors + s[dir].errors }), { dropped: 0, errors: 0 });

function quantiles(c: TracedContainer, dir: Direction): Quantiles {
  const h = c.totals[dir];
  return { count: h.count, p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), p999: h.quantile(0.999) };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class StatisticsCollector {
  private readonly linkBase = new Map<number, { rx: Totals; tx: Totals }>();
  private readonly limitPrev = new Map<number, LimitSample>();

  constructor(private readonly session: TraceSession) {}

  /** Remembers the kernel's interface counters now, so errors and drops count from here. */
  baseline(c: TracedContainer): void {
    const links = linkStats(c.netns);
    this.linkBase.set(c.netns.inode, { rx: sumLinks(links, 'rx'), tx: sumLinks(links, 'tx') });
  }

  collect(): ContainerStatistics[] {
    return this.session.containers.map((c) => this.one(c));
  }

  private one(c: TracedContainer): ContainerStatistics {
    if (!this.linkBase.has(c.netns.inode)) this.baseline(c);
    const base = this.linkBase.get(c.netns.inode)!;
    const links = linkStats(c.netns);
    const rx = sumLinks(links, 'rx');
    const tx = sumLinks(links, 'tx');
    const k = this.session.counters(c.index);
    const limit = this.limit(c);
    return {
      container: c.label,
      netns: c.netns.inode,
      statistics: {
        timestamp: Date.now() / 1000,
        net_rx_bytes: k.ingress.bytes,
        net_rx_packets: k.ingress.packets,
        net_rx_dropped: rx.dropped - base.rx.dropped,
        net_rx_errors: rx.errors - base.rx.errors,
        net_tx_bytes: k.egress.bytes,
        net_tx_packets: k.egress.packets,
        net_tx_dropped: tx.dropped - base.tx.dropped,
        net_tx_errors: tx.errors - base.tx.errors,
        net_traffic_control_statistics: limit ? [limit.stats] : [],
        macebpf_latency_ns: { egress: quantiles(c, 'egress'), ingress: quantiles(c, 'ingress') },
        macebpf_coverage: Object.fromEntries(DIRECTIONS.map((d) => [d, finite(coverage(k[d]))])) as Record<Direction, number | null>,
        macebpf_lost: k.egress.lost + k.ingress.lost,
        macebpf_drop_reasons: this.session.drops(c.index),
        macebpf_rate_limit: limit?.info ?? null,
      },
    };
  }

  // The limit may be held by this process or another macebpf process (`macebpf limit`).
  private limit(c: TracedContainer): { stats: BwLimitStatistics; info: RateLimitInfo } | undefined {
    const addon = loadAddon();
    const found = addon.findLimit(c.netns.inode);
    if (!found) return undefined;
    const sample: LimitSample = { state: decodeLimitState(found.state), monoNs: addon.clockPair()[1] };
    const stats = bwLimitStatistics(sample, this.limitPrev.get(c.netns.inode), found.rate);
    this.limitPrev.set(c.netns.inode, sample);
    const st = sample.state;
    return {
      stats,
      info: {
        rate_bytes_per_sec: found.rate,
        horizon_ns: found.horizonNs,
        mode: found.enforce ? 'fq' : 'police',
        backlog_ns: backlogNs(sample),
        delayed_packets: st.delayed,
        delay_ns_total: st.delayNs,
        horizon_drop_bytes: st.dropBytes,
      },
    };
  }
}
