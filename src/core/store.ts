// The record store (DESIGN §5): per traced container and direction, a
// latency ring of recent records, a histogram of the whole run, one of the
// sliding window, and Prometheus buckets per protocol and part. The tracer
// fills it; `trace`, the daemon and `ping` read it. Pure: no Node API.
//
// Time: `t` of a stored record is ns since `baseNs` (wall clock, ns since the
// epoch, fixed when the store is made), a double that stays exact to the ns
// for 104 days, so neither the hot path nor the browser needs a BigInt.
import { LatencyBuckets } from './latency-buckets';
import { LatencyHistogram } from './histogram';
import { LatencyRing } from './latency-ring';
import { DIRECTIONS, type Direction, type RecordColumns } from './records';
import { WindowHistogram } from './window-histogram';

export const DEFAULT_RING_CAPACITY = 100_000;
export const DEFAULT_WINDOW_S = 10;
/** Untraced containers whose records are kept for CSV and the dashboard. */
export const RETAINED_UNTRACED = 16;

export const PARTS = ['total', 'stack', 'virt'] as const;
export type Part = (typeof PARTS)[number];

/** What identifies a container to users and to the kernel. */
export interface ContainerIdentity {
  label: string; // unique among the store's containers
  netns: number; // netns inode
  spec: string; // as the user gave it
}

export class DirectionSeries {
  readonly ring: LatencyRing;
  readonly run = new LatencyHistogram();
  readonly window: WindowHistogram;
  /** protocol number -> part -> buckets, made on first use */
  readonly buckets = new Map<number, Record<Part, LatencyBuckets>>();
  // The same buckets indexed by protocol number (0..255): an array load per
  // record instead of a Map lookup.
  private readonly byProto: (Record<Part, LatencyBuckets> | undefined)[] = [];

  constructor(capacity: number, windowS: number) {
    this.ring = new LatencyRing(capacity);
    this.window = new WindowHistogram(windowS);
  }

  add(t: number, total: number, stack: number, virt: number, packetId: number, proto: number): void {
    this.ring.push(t, total, stack, virt, packetId, proto);
    this.run.record(total);
    this.window.record(t, total);
    let b = this.byProto[proto];
    if (!b) {
      b = { total: new LatencyBuckets(), stack: new LatencyBuckets(), virt: new LatencyBuckets() };
      this.buckets.set(proto, b);
      this.byProto[proto] = b;
    }
    b.total.record(total);
    if (stack === stack) b.stack.record(stack); // not NaN: observed
    if (virt === virt) b.virt.record(virt);
  }
}

export class StoredContainer implements ContainerIdentity {
  index = 0; // kernel container index while traced; 0 = not traced
  readonly series: Record<Direction, DirectionSeries>;
  /** series by direction number (EGRESS = 0, INGRESS = 1), for the hot path */
  readonly byDir: readonly DirectionSeries[];
  /** Records that arrived for this container (both directions). */
  records = 0;

  constructor(
    readonly label: string,
    readonly netns: number,
    readonly spec: string,
    capacity: number,
    windowS: number,
  ) {
    this.series = { egress: new DirectionSeries(capacity, windowS), ingress: new DirectionSeries(capacity, windowS) };
    this.byDir = DIRECTIONS.map((d) => this.series[d]);
  }

  get traced(): boolean {
    return this.index !== 0;
  }
}

export interface StoreOptions {
  ringCapacity?: number;
  windowS?: number;
  /** Wall-clock ns since the epoch that t = 0 stands for. */
  baseNs: bigint;
}

export class RecordStore {
  readonly baseNs: bigint;
  readonly ringCapacity: number;
  readonly windowS: number;
  private readonly byIndex = new Map<number, StoredContainer>();
  // byIndex as an array (kernel indexes are < MB_MAX_CONTAINERS): the hot
  // path's lookup per record.
  private readonly indexSlots: (StoredContainer | undefined)[] = [];
  private readonly byNetns = new Map<number, StoredContainer>();
  /** Records whose container index was not (or no longer) traced. */
  orphans = 0;

  constructor(opts: StoreOptions) {
    this.baseNs = opts.baseNs;
    this.ringCapacity = opts.ringCapacity ?? DEFAULT_RING_CAPACITY;
    this.windowS = opts.windowS ?? DEFAULT_WINDOW_S;
  }

  /** Every container with records or tracing, traced first, in label order. */
  get containers(): StoredContainer[] {
    return [...this.byNetns.values()].sort((a, b) => Number(b.traced) - Number(a.traced) || a.label.localeCompare(b.label));
  }

  get traced(): StoredContainer[] {
    return this.containers.filter((c) => c.traced);
  }

  byKernelIndex(index: number): StoredContainer | undefined {
    return this.byIndex.get(index);
  }

  byNetnsInode(netns: number): StoredContainer | undefined {
    return this.byNetns.get(netns);
  }

  /** A container by label, or by netns inode written in decimal. */
  find(name: string): StoredContainer | undefined {
    for (const c of this.byNetns.values()) if (c.label === name) return c;
    return /^\d+$/.test(name) ? this.byNetns.get(Number(name)) : undefined;
  }

  /** A label not yet used by another container of this store. */
  uniqueLabel(wanted: string, netns: number): string {
    const taken = (l: string): boolean => [...this.byNetns.values()].some((c) => c.label === l && c.netns !== netns);
    return taken(wanted) ? `${wanted}@${netns}` : wanted;
  }

  /** Marks a container traced under kernel index `index` (keeps its earlier records). */
  attach(id: ContainerIdentity, index: number): StoredContainer {
    let c = this.byNetns.get(id.netns);
    if (!c) {
      c = new StoredContainer(this.uniqueLabel(id.label, id.netns), id.netns, id.spec, this.ringCapacity, this.windowS);
      this.byNetns.set(id.netns, c);
    }
    c.index = index;
    this.byIndex.set(index, c);
    this.indexSlots[index] = c;
    return c;
  }

  /** Marks a container untraced; its records stay until RETAINED_UNTRACED newer ones push it out. */
  detach(netns: number): void {
    const c = this.byNetns.get(netns);
    if (!c || !c.traced) return;
    this.byIndex.delete(c.index);
    this.indexSlots[c.index] = undefined;
    c.index = 0;
    const untraced = [...this.byNetns.values()].filter((x) => !x.traced);
    for (const old of untraced.slice(0, Math.max(0, untraced.length - RETAINED_UNTRACED))) this.byNetns.delete(old.netns);
  }

  /**
   * Adds a decoded batch. deltaNs = (wall − monotonic offset) − baseNs, taken
   * once per batch, so t = tsNs + deltaNs. Returns each record's t.
   */
  ingest(cols: RecordColumns, deltaNs: number): Float64Array {
    const n = cols.length;
    const t = new Float64Array(n);
    // Columns into locals: the loop then reads typed arrays only.
    const { tsNs, container, dir, totalNs, stackNs, virtNs, packetId, proto } = cols;
    const slots = this.indexSlots;
    for (let i = 0; i < n; i++) {
      const ti = tsNs[i] + deltaNs;
      t[i] = ti;
      const c = slots[container[i]];
      if (c === undefined) {
        this.orphans++;
        continue;
      }
      c.records++;
      c.byDir[dir[i]].add(ti, totalNs[i], stackNs[i], virtNs[i], packetId[i], proto[i]);
    }
    return t;
  }

  /** Store time (ns since baseNs) of a wall-clock time in ms since the epoch. */
  tOfWallMs(ms: number): number {
    const baseMs = this.baseNs / 1_000_000n; // split so both parts stay exact doubles
    return (ms - Number(baseMs)) * 1e6 - Number(this.baseNs - baseMs * 1_000_000n);
  }
}
