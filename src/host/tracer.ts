// tracer.ts - the handle over the native tracer (DESIGN §4): loads and
// attaches the BPF programs, numbers traced containers for the kernel, and
// hands out decoded record batches with the wall-clock offset of the batch.
// close() resolves only after the poller's final drain was delivered, so a
// consumer (CSV, WebSocket) has every record before it closes in turn.
import { EventEmitter } from 'node:events';
import { decodeCounters, type ContainerCounters } from '../core/counters';
import { decodeLimitState, type LimitState } from '../core/limit-state';
import { decodeRecords, type RecordColumns } from '../core/records';
import { loadAddon, type NativeTracer, type ProgStats, type SynthOutcome, type SynthPlan, type TracerOptions } from './addon';
import { WallClock } from './clock';
import type { OuterDevice } from './iface';
import type { NetnsRef } from './netns';

export type { SynthOutcome, SynthPlan, TracerOptions } from './addon';

export interface TracerEvents {
  /** A decoded batch; offsetNs = wall clock − CLOCK_MONOTONIC when it arrived. */
  batch: [cols: RecordColumns, offsetNs: bigint];
}

type State = 'open' | 'closing' | 'closed';

/**
 * A container is timed from its own device to the outer device, so the outer
 * device's netns cannot be one: its packets would start no entry and end
 * only as unmatched counts.
 */
export class OuterNetnsError extends Error {
  constructor(netns: NetnsRef, outer: string) {
    super(`cannot trace ${netns.label} (netns ${netns.inode}): it holds the outer device ${outer}, and a container is timed from its own device to the outer one; trace a container's netns, or choose an outer device in another netns (--outer, --outer-netns)`);
    this.name = 'OuterNetnsError';
  }
}

/** How often each traced netns's devices are listed again, to give a device added after trace() the ingress stage's tcx link. */
const DEVICE_REFRESH_MS = 1000;

export class Tracer extends EventEmitter<TracerEvents> {
  private native: NativeTracer | undefined;
  private state: State = 'open';
  private closing: Promise<void> | undefined;
  private readonly clock = new WallClock();
  private readonly indexOf = new Map<number, number>(); // netns inode -> container index
  private readonly outers = new Map<number, string>(); // netns inode -> an outer device in it
  private readonly finalCounters = new Map<number, ContainerCounters>();
  private readonly deviceRefresh: NodeJS.Timeout | undefined;
  readonly sockets: boolean;

  constructor(opts: TracerOptions = {}) {
    super();
    const { Tracer: Native } = loadAddon();
    this.native = new Native(opts);
    this.features = this.native.features();
    this.sockets = opts.tracing !== false && opts.sockets !== false;
    if (opts.tracing !== false) this.native.onEvents((batch) => this.emit('batch', decodeRecords(batch), this.clock.offsetNs()));
    if (this.features.includes('device-ingress:tcx')) {
      // Cleared when closing starts, so it runs only on an open tracer.
      this.deviceRefresh = setInterval(() => this.native?.refreshDevices(), DEVICE_REFRESH_MS).unref();
    }
  }

  /**
   * What this kernel gave the tracer (chosen before load, docs/kernels.md):
   * "cast:kfunc" or "cast:probe-read", "limit-attach:tcx" or
   * "limit-attach:clsact", "device-ingress:tcx" (the traced containers' and
   * outer devices only) or "device-ingress:netif_receive_skb" (every
   * device), and the socket stage's hooks when tracing.
   */
  readonly features: readonly string[];

  addOuter(dev: OuterDevice): void {
    if (this.indexOf.has(dev.netns.inode)) throw new OuterNetnsError(dev.netns, dev.name);
    this.live().setOuter(dev.netns.inode, dev.ifindex, dev.netns.path);
    this.outers.set(dev.netns.inode, dev.name);
  }

  /** Starts tracing a netns; returns its kernel container index (the same one if already traced). */
  trace(netns: NetnsRef): number {
    const known = this.indexOf.get(netns.inode);
    if (known !== undefined) return known;
    const outer = this.outers.get(netns.inode);
    if (outer !== undefined) throw new OuterNetnsError(netns, outer);
    const used = new Set(this.indexOf.values());
    let index = 1;
    while (used.has(index)) index++;
    const { maxContainers } = loadAddon().layout;
    if (index >= maxContainers) {
      throw new Error(`cannot trace ${netns.label}: already tracing ${maxContainers - 1} containers; untrace one first`);
    }
    this.live().trace(netns.inode, index, netns.path, netns.cgroup);
    this.indexOf.set(netns.inode, index);
    return index;
  }

  untrace(netns: NetnsRef): void {
    if (!this.indexOf.has(netns.inode)) throw new Error(`netns ${netns.label} (inode ${netns.inode}) is not traced`);
    this.live().untrace(netns.inode);
    this.indexOf.delete(netns.inode);
  }

  /** Kernel counters of a container index (0: what belongs to no traced container); after close, the last reading. */
  counters(index: number): ContainerCounters {
    if (!this.native) {
      const last = this.finalCounters.get(index);
      if (!last) throw new Error(`no counters of container index ${index}: the tracer closed before it was traced`);
      return last;
    }
    return decodeCounters(this.native.counters(index));
  }

  /** Kernel drops of a traced container, by reason. */
  drops(index: number): Record<string, number> {
    return this.live().drops(index);
  }

  /** Turns on the kernel's BPF run-time accounting for as long as this tracer is open. */
  enableStats(): void {
    this.live().enableStats();
  }

  progStats(): ProgStats[] {
    return this.live().progStats();
  }

  limit(netns: NetnsRef, dev: string, rateBytesPerSec: number, horizonNs: number, enforce: boolean): void {
    this.live().limit(netns.path, dev, netns.inode, rateBytesPerSec, horizonNs, enforce);
  }

  unlimit(netnsInode: number): void {
    this.live().unlimit(netnsInode);
  }

  limitState(netnsInode: number): LimitState {
    return decodeLimitState(this.live().limitState(netnsInode));
  }

  /** BPF_PROG_TEST_RUN of the EDT program on one frame, as seen from netns. */
  edtTestRun(frame: ArrayBuffer, netns: NetnsRef): { verdict: number; tstamp: bigint } {
    return this.live().edtTestRun(frame, netns.path);
  }

  /** Runs the synthetic record producer (a tracer opened with { synth: true }): benchmarks and tests. */
  synth(plan: SynthPlan): Promise<SynthOutcome> {
    return this.live().synth(plan);
  }

  /**
   * Detaches the programs, delivers the records still in the ring buffer
   * (the last 'batch' events fire before this resolves), keeps the final
   * counters readable, then frees everything. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const native = this.native;
      if (!native) return;
      this.state = 'closing';
      clearInterval(this.deviceRefresh);
      try {
        await native.drain();
        for (const index of [0, ...this.indexOf.values()]) this.finalCounters.set(index, decodeCounters(native.counters(index)));
      } finally {
        native.close();
        this.native = undefined;
        this.state = 'closed';
      }
    })();
    return this.closing;
  }

  private live(): NativeTracer {
    if (!this.native || this.state !== 'open') throw new Error(`tracer is ${this.state}: create a new one`);
    return this.native;
  }
}
