// addon.ts - the typed face of the native addon (native/addon.cc).
import bindings from 'bindings';

export interface TracerOptions {
  /** In-flight correlation entries per direction (default 65,536, as MACE). */
  inflightEntries?: number;
  /** Entries older than this are discarded at match time and counted stale (default 1 s). */
  maxAgeNs?: number;
  /** Ring-buffer records that wake the poller (default 64). */
  wakeupRecords?: number;
  /** Trace the socket stage (a tracepoint hit on every syscall while loaded; default true). */
  sockets?: boolean;
}

export interface NativeTracer {
  setOuter(netns: number, ifindex: number): void;
  clearOuter(netns: number, ifindex: number): void;
  trace(netns: number, index: number): void;
  untrace(netns: number): void;
  /** One struct mb_counters summed over CPUs. */
  counters(index: number): ArrayBuffer;
  onEvents(callback: (batch: ArrayBuffer) => void): void;
  close(): void;
}

/** Sizes and offsets of the shared C structs, from offsetof() in the addon. */
export interface NativeLayout {
  eventSize: number;
  event: Record<string, number>;
  countersSize: number;
  dirCountersSize: number;
  dirCounters: Record<string, number>;
  maxContainers: number;
  absent: number;
}

interface Addon {
  Tracer: new (options: TracerOptions) => NativeTracer;
  layout: NativeLayout;
  clockPair(): [bigint, bigint];
}

let addon: Addon | undefined;

export function loadAddon(): Addon {
  addon ??= bindings('macebpf') as Addon;
  return addon;
}
