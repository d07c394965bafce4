// daemon.ts - the state `macebpf serve` serves (DESIGN §5): one tracer
// feeding one record store, the limits it holds, the statistics collector,
// and the operations clients may ask for. HTTP and WebSocket front ends call
// these; they never touch the tracer themselves. Lifecycle: running →
// closing → closed; close() removes limits, drains the tracer so the last
// records reach every listener, then frees the kernel side.
import { EventEmitter } from 'node:events';
import { specProblem, type ContainerView, type LimitBody } from '../core/protocol';
import type { RecordColumns } from '../core/records';
import type { StoredContainer } from '../core/store';
import { parseHorizon, parseRate } from '../core/units';
import type { TracerOptions } from '../host/addon';
import { clocksource } from '../host/clock';
import { outerPresent, type OuterDevice } from '../host/iface';
import { LimitHeldElsewhere, Limits } from '../host/limits';
import { netnsPresent, resolveNetns, type NetnsRef } from '../host/netns';
import { StatisticsCollector } from '../host/statistics';
import { Tracing } from '../host/tracing';
import { OuterNetnsError } from '../host/tracer';
import type { ServerConfig } from './config';
import { ApiError } from './errors';

export interface DaemonEvents {
  records: [cols: RecordColumns, t: Float64Array];
  containers: [];
  /** A traced container's netns went away (the container ended); tracing it stopped. */
  ended: [c: StoredContainer];
  /** The outer device went away: no record can complete any more. */
  outerGone: [];
}

export type DaemonState = 'running' | 'closing' | 'closed';

export class Daemon extends EventEmitter<DaemonEvents> {
  readonly tracing: Tracing;
  readonly limits: Limits;
  readonly statistics: StatisticsCollector;
  readonly clocksource = clocksource();
  readonly features: string[];
  readonly startedMs = Date.now();
  private stateValue: DaemonState = 'running';
  private closing: Promise<void> | undefined;

  /** false once the outer device went away (healthz says so) */
  outerPresent = true;

  constructor(config: Pick<ServerConfig, 'ringCapacity' | 'windowS'>, tracer: TracerOptions, readonly outer: OuterDevice) {
    super();
    this.tracing = new Tracing({ ...tracer, ringCapacity: config.ringCapacity, windowS: config.windowS });
    try {
      this.limits = new Limits(this.tracing.tracer);
      this.statistics = new StatisticsCollector(this.tracing, this.limits);
      this.tracing.tracer.addOuter(outer);
      let stats = 'bpf-run-time';
      try {
        this.tracing.tracer.enableStats();
      } catch {
        stats = 'no-bpf-run-time'; // BPF_ENABLE_STATS refused: no self-overhead figure
      }
      this.features = [this.tracing.tracer.sockets ? 'socket-stage' : 'no-socket-stage', `limits:${this.limits.mode}`, stats, ...this.tracing.tracer.features];
    } catch (err) {
      void this.tracing.close();
      throw err;
    }
    this.tracing.on('records', (cols, t) => this.emit('records', cols, t));
  }

  get state(): DaemonState {
    return this.stateValue;
  }

  /** A container this daemon knows (traced, or traced before), by label or netns inode. */
  container(name: string): StoredContainer {
    const c = this.tracing.store.find(name);
    if (!c) {
      const known = this.tracing.store.containers.map((x) => x.label);
      throw new ApiError('not_found', `no container "${name}"${known.length ? ` (known: ${known.join(', ')})` : ' (none traced yet)'}; trace it first with POST /api/containers/{spec}/trace`, 'container');
    }
    return c;
  }

  /** A known container by label, netns inode or the spec it was traced with. */
  containerBySpec(name: string): StoredContainer {
    return this.known(name) ?? this.container(name);
  }

  private known(name: string): StoredContainer | undefined {
    return this.tracing.store.containers.find((c) => c.spec === name) ?? this.tracing.store.find(name);
  }

  views(): ContainerView[] {
    return this.tracing.store.containers.map((c) => this.view(c));
  }

  view(c: StoredContainer): ContainerView {
    const l = this.limits.get(c.netns);
    return {
      label: c.label,
      netns: c.netns,
      spec: c.spec,
      traced: c.traced,
      limit: l ? { rate_bytes_per_sec: l.rate_bytes_per_sec, horizon_ns: l.horizon_ns, mode: l.mode, dev: l.dev } : null,
    };
  }

  /**
   * Starts tracing a netns. remote: the name came from a client, so a new
   * container's spec must have a form protocol.specProblem accepts (no
   * file-system paths).
   */
  trace(name: string, opts: { label?: string; remote: boolean }): StoredContainer {
    this.running();
    // A container this daemon knows is named as untrace and limit name it
    // and traced again by the spec it was traced with (which the daemon
    // accepted then: a CLI path as well as a client's spec).
    const known = this.known(name);
    const spec = known?.spec ?? name;
    if (opts.remote && !known) {
      const problem = specProblem(spec);
      if (problem) throw new ApiError('bad_request', problem, 'spec');
    }
    let ref: NetnsRef;
    try {
      ref = resolveNetns(spec);
    } catch (err) {
      throw new ApiError('not_found', (err as Error).message, 'spec');
    }
    const existing = this.tracing.store.byNetnsInode(ref.inode);
    if (opts.label !== undefined) this.checkLabel(opts.label, ref, existing);
    if (existing?.traced) return existing;
    let c: StoredContainer;
    try {
      c = this.tracing.trace(ref, opts.label ?? existing?.label ?? ref.label);
    } catch (err) {
      if (err instanceof OuterNetnsError) throw new ApiError('conflict', err.message, 'spec');
      throw err;
    }
    this.statistics.baseline(ref);
    this.emit('containers');
    return c;
  }

  // A label asked for is the container's own: a known container keeps the one
  // its records carry (CSV rows, metrics series), and no two share one.
  private checkLabel(label: string, ref: NetnsRef, existing: StoredContainer | undefined): void {
    if (existing && existing.label !== label) {
      throw new ApiError('conflict', `netns ${ref.inode} (${ref.spec}) is already known as "${existing.label}" and keeps that label while its records are held; omit "label" or give "${existing.label}"`, 'label');
    }
    const holder = this.tracing.store.find(label);
    if (!existing && holder) throw new ApiError('conflict', `label "${label}" is taken by netns ${holder.netns} (${holder.spec}); choose another`, 'label');
  }

  /**
   * Once a second: stops tracing containers that ended (their netns is gone)
   * and lets go of their limits (the device went with the netns: nothing to
   * restore); notes once that the outer device went.
   */
  checkGone(): void {
    if (this.outerPresent && !outerPresent(this.outer)) {
      this.outerPresent = false;
      this.emit('outerGone');
    }
    const ended = this.tracing.reapEnded();
    for (const c of ended) {
      this.limits.forget(c.netns);
      this.emit('ended', c);
    }
    if (ended.length) this.emit('containers');
  }

  untrace(name: string): StoredContainer {
    this.running();
    const c = this.container(name);
    if (!c.traced) throw new ApiError('conflict', `container "${c.label}" is not traced`, 'container');
    this.tracing.untrace(this.tracing.ref(c.netns)!);
    this.emit('containers');
    return c;
  }

  setLimit(name: string, body: LimitBody): StoredContainer {
    this.running();
    const c = this.container(name);
    const ref = this.tracing.ref(c.netns)!;
    if (!netnsPresent(ref)) throw new ApiError('conflict', `container "${c.label}" ended: its netns ${c.netns} (${ref.spec}) is gone`, 'container');
    try {
      this.limits.set(ref, { rateBytesPerSec: parseRate(body.rate), horizonNs: body.horizon === undefined ? undefined : parseHorizon(body.horizon) });
    } catch (err) {
      throw new ApiError(err instanceof LimitHeldElsewhere ? 'conflict' : 'failed', `limiting ${c.label} failed: ${(err as Error).message}`);
    }
    this.emit('containers');
    return c;
  }

  unlimit(name: string): StoredContainer {
    this.running();
    const c = this.container(name);
    if (!this.limits.get(c.netns)) throw new ApiError('conflict', `container "${c.label}" has no limit`, 'container');
    this.limits.remove(c.netns);
    this.emit('containers');
    return c;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.stateValue = 'closing';
      try {
        this.limits.removeAll();
      } finally {
        await this.tracing.close(); // last 'records' events fire before this resolves
        this.stateValue = 'closed';
      }
    })();
    return this.closing;
  }

  private running(): void {
    if (this.stateValue !== 'running') throw new ApiError('unavailable', `the daemon is ${this.stateValue}; try again after it restarts`);
  }
}
