// session.ts - one tracing run: the loaded BPF tracer, the traced containers
// with their latency rings and histograms, and the record stream. Commands
// (trace, demo, later the server) build on this, not on the addon directly.
import { EventEmitter } from 'node:events';
import { loadAddon, type NativeTracer, type TracerOptions } from './addon';
import { WallClock } from './clock';
import { decodeCounters, type ContainerCounters } from './counters';
import { LatencyHistogram } from './histogram';
import type { OuterDevice } from './iface';
import { LatencyRing } from './latency-ring';
import { decodeLimitState, type LimitState } from './limit-state';
import type { NetnsRef } from './netns';
import { DIRECTIONS, decodeRecords, type Direction, type RecordColumns } from './records';

export const DEFAULT_RING_CAPACITY = 100_000;

export interface TracedContainer {
  index: number;
  label: string;
  netns: NetnsRef;
  rings: Record<Direction, LatencyRing>;
  totals: Record<Direction, LatencyHistogram>;
}

export interface SessionOptions extends TracerOptions {
  ringCapacity?: number;
}

export interface SessionEvents {
  /** A decoded batch, plus the wall-clock ns of each record's first stage. */
  records: [cols: RecordColumns, wallNs: BigInt64Array];
}

export class TraceSession extends EventEmitter<SessionEvents> {
  private tracer: NativeTracer | undefined;
  private readonly byIndex = new Map<number, TracedContainer>();
  private readonly byInode = new Map<number, TracedContainer>();
  private readonly outers: OuterDevice[] = [];
  private readonly clock = new WallClock();
  private readonly ringCapacity: number;

  constructor(opts: SessionOptions = {}) {
    super();
    this.ringCapacity = opts.ringCapacity ?? DEFAULT_RING_CAPACITY;
    const { Tracer } = loadAddon();
    this.tracer = new Tracer(opts);
    this.tracer.onEvents((batch) => this.onBatch(batch));
  }

  get containers(): TracedContainer[] {
    return [...this.byIndex.values()];
  }

  container(index: number): TracedContainer | undefined {
    return this.byIndex.get(index);
  }

  addOuter(dev: OuterDevice): void {
    this.native().setOuter(dev.netns.inode, dev.ifindex);
    this.outers.push(dev);
  }

  /** Starts tracing a container; returns it (the same one if already traced). */
  trace(netns: NetnsRef, label = netns.label): TracedContainer {
    const existing = this.byInode.get(netns.inode);
    if (existing) return existing;
    let index = 1;
    while (this.byIndex.has(index)) index++;
    const { maxContainers } = loadAddon().layout;
    if (index >= maxContainers) {
      throw new Error(`cannot trace ${label}: already tracing ${maxContainers - 1} containers; untrace one first`);
    }
    this.native().trace(netns.inode, index);
    const c: TracedContainer = {
      index,
      label,
      netns,
      rings: { egress: new LatencyRing(this.ringCapacity), ingress: new LatencyRing(this.ringCapacity) },
      totals: { egress: new LatencyHistogram(), ingress: new LatencyHistogram() },
    };
    this.byIndex.set(index, c);
    this.byInode.set(netns.inode, c);
    return c;
  }

  untrace(netns: NetnsRef): void {
    const c = this.byInode.get(netns.inode);
    if (!c) throw new Error(`netns ${netns.label} (inode ${netns.inode}) is not traced`);
    this.native().untrace(netns.inode);
    this.byInode.delete(netns.inode);
    this.byIndex.delete(c.index);
  }

  /** Kernel counters of a container; index 0 holds what belongs to no traced container. */
  counters(index: number): ContainerCounters {
    return decodeCounters(this.native().counters(index));
  }

  /** Kernel drops of a traced container, by reason. */
  drops(index: number): Record<string, number> {
    return this.native().drops(index);
  }

  /**
   * Limits a container's egress on dev (in its netns) to rate bytes/s; a
   * second call changes rate and horizon without re-attaching. enforce: an
   * fq qdisc on dev paces by departure time; otherwise the horizon polices.
   */
  limit(netns: NetnsRef, dev: string, rateBytesPerSec: number, horizonNs: number, enforce: boolean): void {
    this.native().limit(netns.path, dev, netns.inode, rateBytesPerSec, horizonNs, enforce);
  }

  unlimit(netns: NetnsRef): void {
    this.native().unlimit(netns.inode);
  }

  limitState(netns: NetnsRef): LimitState {
    return decodeLimitState(this.native().limitState(netns.inode));
  }

  /** BPF_PROG_TEST_RUN of the EDT program on one frame, as seen from netns. */
  edtTestRun(frame: ArrayBuffer, netns: NetnsRef): { verdict: number; tstamp: bigint } {
    return this.native().edtTestRun(frame, netns.path);
  }

  /** Detaches every BPF program and frees the maps. Idempotent. */
  close(): void {
    this.tracer?.close();
    this.tracer = undefined;
  }

  private native(): NativeTracer {
    if (!this.tracer) throw new Error('trace session is closed');
    return this.tracer;
  }

  private onBatch(batch: ArrayBuffer): void {
    const cols = decodeRecords(batch);
    const wall = new BigInt64Array(cols.length);
    const offset = this.clock.offsetNs();
    for (let i = 0; i < cols.length; i++) {
      wall[i] = cols.tsNs[i] + offset;
      const c = this.byIndex.get(cols.container[i]);
      if (!c) continue; // untraced while its records were in flight
      const dir = DIRECTIONS[cols.dir[i]];
      c.rings[dir].push(Number(wall[i]) / 1e6, cols.totalNs[i], cols.stackNs[i], cols.virtNs[i]);
      c.totals[dir].record(cols.totalNs[i]);
    }
    this.emit('records', cols, wall);
  }
}
