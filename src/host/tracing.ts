// tracing.ts - a tracer feeding a record store: what `trace`, `stats`, the
// daemon and `ping` share. Keeps the kernel's container numbering and the
// store's containers in step, and re-emits each batch with its store times.
import { EventEmitter } from 'node:events';
import type { RecordColumns } from '../core/records';
import { RecordStore, type StoredContainer, type StoreOptions } from '../core/store';
import { wallClockNs } from './clock';
import { netnsPresent, type NetnsRef } from './netns';
import { Tracer, type TracerOptions } from './tracer';

export interface TracingEvents {
  /** A batch as stored; t[i] = ns since store.baseNs of record i. */
  records: [cols: RecordColumns, t: Float64Array];
}

export class Tracing extends EventEmitter<TracingEvents> {
  readonly tracer: Tracer;
  readonly store: RecordStore;
  private readonly refs = new Map<number, NetnsRef>();

  constructor(opts: TracerOptions & Partial<StoreOptions> = {}) {
    super();
    this.store = new RecordStore({ ringCapacity: opts.ringCapacity, windowS: opts.windowS, baseNs: opts.baseNs ?? wallClockNs() });
    this.tracer = new Tracer(opts);
    this.tracer.on('batch', (cols, offsetNs) => {
      const t = this.store.ingest(cols, Number(offsetNs - this.store.baseNs));
      this.emit('records', cols, t);
    });
  }

  /** Starts tracing a netns (again, keeping its earlier records); returns its stored container. */
  trace(ref: NetnsRef, label = ref.label): StoredContainer {
    const index = this.tracer.trace(ref);
    this.refs.set(ref.inode, ref);
    return this.store.attach({ label, netns: ref.inode, spec: ref.spec }, index);
  }

  /** The netns a known container was traced by, by its inode. */
  ref(netnsInode: number): NetnsRef | undefined {
    return this.store.byNetnsInode(netnsInode) ? this.refs.get(netnsInode) : undefined;
  }

  /**
   * Stops tracing the containers whose netns is gone (the container ended);
   * their records stay in the store. Returns them.
   */
  reapEnded(): StoredContainer[] {
    const ended = this.store.traced.filter((c) => !netnsPresent(this.refs.get(c.netns)!));
    for (const c of ended) this.untrace(this.refs.get(c.netns)!);
    for (const inode of this.refs.keys()) if (!this.store.byNetnsInode(inode)) this.refs.delete(inode);
    return ended;
  }

  untrace(ref: NetnsRef): void {
    this.tracer.untrace(ref);
    this.store.detach(ref.inode);
  }

  /** Label of a kernel container index, for records of a batch. */
  labelOf(index: number): string | undefined {
    return this.store.byKernelIndex(index)?.label;
  }

  close(): Promise<void> {
    return this.tracer.close();
  }
}
