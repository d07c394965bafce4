// statistics.ts - per-container statistics in the shape of Mesos'
// /monitor/statistics.json (DESIGN §5): net_* counters, the bw_limit entry of
// net_traffic_control_statistics, plus macebpf's latency quantiles, coverage
// and drop reasons. All counters cover the time since the collector started.
import { coverage } from '../core/counters';
import type { BwLimitStatistics, LimitSample } from '../core/limit-state';
import { DIRECTIONS, type Direction } from '../core/records';
import type { StoredContainer } from '../core/store';
import { linkStats, type LinkStats } from './iface';
import type { Limits } from './limits';
import { netnsPresent, type NetnsRef } from './netns';
import type { LimitMode } from './qdisc';
import type { Tracing } from './tracing';

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
  executor_id: string; // Mesos' name for the container: its label
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

function quantiles(c: StoredContainer, dir: Direction): Quantiles {
  const h = c.series[dir].run;
  return { count: h.count, p50: h.quantile(0.5), p90: h.quantile(0.9), p99: h.quantile(0.99), p999: h.quantile(0.999) };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);

export class StatisticsCollector {
  private readonly linkBase = new Map<number, { rx: Totals; tx: Totals }>();
  private readonly limitPrev = new Map<number, LimitSample>();

  /** limits: those this process holds; others are looked up among the kernel's maps. */
  constructor(
    private readonly tracing: Tracing,
    private readonly limits: Limits,
  ) {}

  /** Remembers the kernel's interface counters now, so errors and drops count from here. */
  baseline(netns: NetnsRef): void {
    const links = linkStats(netns);
    this.linkBase.set(netns.inode, { rx: sumLinks(links, 'rx'), tx: sumLinks(links, 'tx') });
  }

  /** One entry per traced container whose netns is still there (as Mesos lists running containers). */
  collect(): ContainerStatistics[] {
    return this.tracing.store.traced.flatMap((c) => {
      const ref = this.tracing.ref(c.netns);
      return ref && netnsPresent(ref) ? [this.one(c, ref)] : [];
    });
  }

  private one(c: StoredContainer, ref: NetnsRef): ContainerStatistics {
    if (!this.linkBase.has(c.netns)) this.baseline(ref);
    const base = this.linkBase.get(c.netns)!;
    const links = linkStats(ref);
    const rx = sumLinks(links, 'rx');
    const tx = sumLinks(links, 'tx');
    const k = this.tracing.tracer.counters(c.index);
    const limit = this.limit(c.netns);
    return {
      executor_id: c.label,
      container: c.label,
      netns: c.netns,
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
        macebpf_drop_reasons: this.tracing.tracer.drops(c.index),
        macebpf_rate_limit: limit?.info ?? null,
      },
    };
  }

  private limit(netns: number): { stats: BwLimitStatistics; info: RateLimitInfo } | undefined {
    const r = this.limits.read(netns, this.limitPrev);
    if (!r) return undefined;
    return {
      stats: r.stats,
      info: {
        rate_bytes_per_sec: r.view.rate_bytes_per_sec,
        horizon_ns: r.view.horizon_ns,
        mode: r.view.mode,
        backlog_ns: r.backlogNs,
        delayed_packets: r.state.delayed,
        delay_ns_total: r.state.delayNs,
        horizon_drop_bytes: r.state.dropBytes,
      },
    };
  }
}
