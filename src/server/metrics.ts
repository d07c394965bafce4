// metrics.ts - GET /metrics in the Prometheus text format through prom-client
// (DESIGN §5): prefix macebpf_, base units, counters ending _total, latency
// histograms with buckets 1 µs·2^k labelled container/direction/protocol/
// part, Mesos' counters as macebpf_net_*, the limit as macebpf_tc_* with
// id="bw_limit". Values are read from the daemon at scrape time; the
// histograms come from the store's own buckets, so recording a packet never
// calls into prom-client. Labels never carry addresses or ports.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, type LabelValues } from 'prom-client';
import { BUCKET_BOUNDS_S, type LatencyBuckets } from '../core/latency-buckets';
import { PROTOCOL_VERSION } from '../core/protocol';
import { DIRECTIONS, protocolName } from '../core/records';
import { PARTS } from '../core/store';
import type { Daemon } from './daemon';
import type { Sampler } from './sampler';
import type { ContainerStatistics } from '../host/statistics';

type Labels = LabelValues<string>;
type Row = [Labels, number];

interface HistogramValue {
  labels: Labels;
  value: number;
  metricName: string;
}

/** A histogram whose buckets live in the record store (prom-client renders them). */
class StoreHistogram extends Histogram<string> {
  constructor(
    private readonly metricName: string,
    private readonly metricHelp: string,
    labelNames: string[],
    private readonly read: () => Array<[Labels, LatencyBuckets]>,
  ) {
    super({ name: metricName, help: metricHelp, labelNames, buckets: [...BUCKET_BOUNDS_S], registers: [] });
  }

  async getForPromString(): Promise<{ name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' }> {
    const values: HistogramValue[] = [];
    for (const [labels, b] of this.read()) {
      const cum = b.cumulative();
      BUCKET_BOUNDS_S.forEach((le, k) => values.push({ labels: { ...labels, le: String(Number(le.toPrecision(12))) }, value: cum[k], metricName: `${this.metricName}_bucket` }));
      values.push({ labels: { ...labels, le: '+Inf' }, value: b.count, metricName: `${this.metricName}_bucket` });
      values.push({ labels, value: b.sumNs / 1e9, metricName: `${this.metricName}_sum` });
      values.push({ labels, value: b.count, metricName: `${this.metricName}_count` });
    }
    return { name: this.metricName, help: this.metricHelp, type: 'histogram', values, aggregator: 'sum' };
  }

  override async get(): ReturnType<Histogram<string>['get']> {
    return (await this.getForPromString()) as unknown as Awaited<ReturnType<Histogram<string>['get']>>;
  }
}

export class Metrics {
  readonly registry = new Registry();
  private stats: ContainerStatistics[] = [];

  constructor(
    private readonly daemon: Daemon,
    private readonly sampler: Sampler,
    private readonly clients: () => { clients: number; droppedFrames: number; droppedRecords: number },
  ) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'macebpf_' });
    // prom-client names these gauges *_total, which Prometheus reserves for counters.
    for (const g of ['active_handles_total', 'active_requests_total', 'active_resources_total']) r.removeSingleMetric(`macebpf_nodejs_${g}`);
    const store = daemon.tracing.store;

    this.gauge('macebpf_traced_containers', 'Containers (network namespaces) being traced.', [], () => [[{}, store.traced.length]]);
    this.gauge('macebpf_info', 'Constant 1, labelled with the daemon version and the clocksource of BPF timestamps.', ['version', 'protocol', 'clocksource'], () => [
      [{ version: process.env.npm_package_version ?? '0.1.0', protocol: String(PROTOCOL_VERSION), clocksource: daemon.clocksource }, 1],
    ]);
    this.gauge('macebpf_container_info', 'Constant 1 per known container, with its netns inode and whether it is traced.', ['container', 'netns', 'traced'], () =>
      store.containers.map((c): Row => [{ container: c.label, netns: String(c.netns), traced: String(c.traced) }, 1]),
    );

    const latency = new StoreHistogram('macebpf_latency_seconds', 'Per-packet latency added by the host: total (first to last stage), stack (socket to container device) and virt (container device to outer device).', ['container', 'direction', 'protocol', 'part'], () =>
      store.containers.flatMap((c) =>
        DIRECTIONS.flatMap((direction) =>
          [...c.series[direction].buckets].flatMap(([proto, parts]) =>
            PARTS.map((part): [Labels, LatencyBuckets] => [{ container: c.label, direction, protocol: protocolName(proto), part }, parts[part]]),
          ),
        ),
      ),
    );
    r.registerMetric(latency);

    // Mesos' per-container network statistics.
    const net = [
      ['rx_bytes', 'net_rx_bytes', 'Bytes received at the container device.'],
      ['rx_packets', 'net_rx_packets', 'Packets received at the container device.'],
      ['rx_dropped', 'net_rx_dropped', 'Received packets the container interfaces dropped (kernel interface statistics).'],
      ['rx_errors', 'net_rx_errors', 'Receive errors of the container interfaces.'],
      ['tx_bytes', 'net_tx_bytes', 'Bytes sent at the container device.'],
      ['tx_packets', 'net_tx_packets', 'Packets sent at the container device.'],
      ['tx_dropped', 'net_tx_dropped', 'Sent packets the container interfaces dropped.'],
      ['tx_errors', 'net_tx_errors', 'Transmit errors of the container interfaces.'],
    ] as const;
    for (const [name, field, help] of net) {
      this.counter(`macebpf_net_${name}_total`, `${help} Mesos: ${field}.`, ['container'], () => this.stats.map((s): Row => [{ container: s.container }, s.statistics[field]]));
    }

    // The tracer's own accounting per container and direction.
    const dirCounter = (field: 'events' | 'unmatched' | 'stale' | 'lost' | 'collisions', name: string, help: string): void =>
      this.counter(name, help, ['container', 'direction'], () =>
        store.traced.flatMap((c) => {
          const k = daemon.tracing.tracer.counters(c.index);
          return DIRECTIONS.map((direction): Row => [{ container: c.label, direction }, k[direction][field]]);
        }),
      );
    dirCounter('events', 'macebpf_records_total', 'Latency records the kernel emitted.');
    dirCounter('unmatched', 'macebpf_unmatched_total', 'Packets a later stage found no in-flight entry for.');
    dirCounter('stale', 'macebpf_stale_total', 'In-flight entries older than the max age when matched, discarded.');
    dirCounter('lost', 'macebpf_lost_total', 'Records lost because the ring buffer was full.');
    dirCounter('collisions', 'macebpf_collisions_total', 'Packets whose key was already in flight.');
    this.gauge('macebpf_coverage_ratio', 'Records per packet at the container device since tracing began.', ['container', 'direction'], () =>
      this.stats.flatMap((s) => DIRECTIONS.flatMap((direction): Row[] => (s.statistics.macebpf_coverage[direction] === null ? [] : [[{ container: s.container, direction }, s.statistics.macebpf_coverage[direction]!]]))),
    );
    this.counter('macebpf_kernel_drops_total', 'Packets the kernel dropped in a traced container, by drop reason.', ['container', 'reason'], () =>
      this.stats.flatMap((s) => Object.entries(s.statistics.macebpf_drop_reasons).map(([reason, n]): Row => [{ container: s.container, reason }, n])),
    );

    // The EDT limit, as Mesos' net_traffic_control_statistics entry "bw_limit".
    const tc = (f: 'bytes' | 'packets' | 'drops' | 'overlimits' | 'requeues'): (() => Row[]) => () =>
      this.stats.flatMap((s) => s.statistics.net_traffic_control_statistics.map((t): Row => [{ container: s.container, id: t.id }, t[f]]));
    const tcGauge = (f: 'backlog' | 'qlen' | 'ratebps' | 'ratepps'): (() => Row[]) => () =>
      this.stats.flatMap((s) => s.statistics.net_traffic_control_statistics.map((t): Row => [{ container: s.container, id: t.id }, t[f]]));
    this.counter('macebpf_tc_bytes_total', 'Bytes the limit passed.', ['container', 'id'], tc('bytes'));
    this.counter('macebpf_tc_packets_total', 'Packets the limit passed.', ['container', 'id'], tc('packets'));
    this.counter('macebpf_tc_drops_total', 'Packets dropped beyond the horizon.', ['container', 'id'], tc('drops'));
    this.counter('macebpf_tc_overlimits_total', 'Packets that had to wait for their departure time.', ['container', 'id'], tc('overlimits'));
    this.counter('macebpf_tc_requeues_total', 'Requeues (EDT never requeues).', ['container', 'id'], tc('requeues'));
    this.gauge('macebpf_tc_backlog_bytes', 'Bytes scheduled but not yet due.', ['container', 'id'], tcGauge('backlog'));
    this.gauge('macebpf_tc_qlen', 'Packets in that virtual queue (estimated).', ['container', 'id'], tcGauge('qlen'));
    this.gauge('macebpf_tc_rate_bytes_per_second', 'Achieved rate since the previous scrape.', ['container', 'id'], tcGauge('ratebps'));
    this.gauge('macebpf_tc_rate_packets_per_second', 'Achieved packet rate since the previous scrape.', ['container', 'id'], tcGauge('ratepps'));
    this.gauge('macebpf_tc_limit_bytes_per_second', 'Configured egress rate limit.', ['container', 'id', 'mode'], () =>
      this.stats.flatMap((s) => (s.statistics.macebpf_rate_limit ? [[{ container: s.container, id: 'bw_limit', mode: s.statistics.macebpf_rate_limit.mode }, s.statistics.macebpf_rate_limit.rate_bytes_per_sec] as Row] : [])),
    );

    // Self-overhead, as MACE published its own.
    this.counter('macebpf_bpf_run_time_seconds_total', 'Kernel-accounted run time of each macebpf BPF program (BPF_ENABLE_STATS, on while the daemon runs).', ['program'], () =>
      this.sampler.latest.programs.map((p): Row => [{ program: p.name }, p.runTimeNs / 1e9]),
    );
    this.counter('macebpf_bpf_runs_total', 'Runs of each macebpf BPF program.', ['program'], () => this.sampler.latest.programs.map((p): Row => [{ program: p.name }, p.runCount]));
    this.gauge('macebpf_bpf_seconds_per_packet', 'BPF run time per packet at traced containers\' devices over the last sampling interval.', [], () =>
      this.sampler.latest.bpfNsPerPacket === null ? [] : [[{}, this.sampler.latest.bpfNsPerPacket / 1e9]],
    );

    // The server's own delivery.
    this.gauge('macebpf_ws_clients', 'Connected WebSocket clients.', [], () => [[{}, this.clients().clients]]);
    this.counter('macebpf_ws_dropped_frames_total', 'Record frames dropped because a client did not keep up.', [], () => [[{}, this.clients().droppedFrames]]);
    this.counter('macebpf_ws_dropped_records_total', 'Records in those frames.', [], () => [[{}, this.clients().droppedRecords]]);
  }

  /** The exposition; the kernel's counters are read once here for every metric of this scrape. */
  async text(): Promise<string> {
    this.stats = this.daemon.state === 'running' ? this.daemon.statistics.collect() : [];
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private gauge(name: string, help: string, labelNames: string[], read: () => Row[]): void {
    this.mirror('gauge', name, help, labelNames, read);
  }

  private counter(name: string, help: string, labelNames: string[], read: () => Row[]): void {
    this.mirror('counter', name, help, labelNames, read);
  }

  // A metric whose values are read from the daemon at scrape time (a counter
  // mirrors a kernel total: reset, then set to the total by one increment).
  private mirror(kind: 'gauge' | 'counter', name: string, help: string, labelNames: string[], read: () => Row[]): void {
    const config = { name, help, labelNames, registers: [this.registry] };
    if (kind === 'gauge') {
      new Gauge({ ...config, collect() { this.reset(); for (const [l, v] of read()) this.set(l, v); } });
    } else {
      new Counter({ ...config, collect() { this.reset(); for (const [l, v] of read()) this.inc(l, v); } });
    }
  }
}
