// addon.ts - the typed face of the native addon (native/addon.cc).
import bindings from 'bindings';

export interface TracerOptions {
  /** In-flight correlation entries per direction (default 65,536, as MACE). */
  inflightEntries?: number;
  /** Entries older than this are discarded at match time and counted stale (default 1 s). */
  maxAgeNs?: number;
  /** Ring-buffer records that wake the poller (default 64). */
  wakeupRecords?: number;
  /**
   * Size of the record ring buffer in bytes, a power of two from 1 MiB to
   * 256 MiB (default 4 MiB, ~87,000 records; bpf/macebpf.h).
   */
  ringBytes?: number;
  /** Trace the socket stage (per-socket tracepoints and the containers' cgroups, docs/measurement.md; default true). */
  sockets?: boolean;
  /** Load the tracing programs (default true); a rate limiter alone needs none. */
  tracing?: boolean;
  /**
   * Kernel features to treat as missing, so their fallbacks run on any kernel
   * (docs/kernels.md): "kfunc" (probe-read programs), "tcx" (clsact + cls_bpf).
   */
  disable?: KernelFeature[];
  /** Also load the synthetic record producer (bpf/synth.bpf.c) for synth(): benchmarks and tests only. */
  synth?: boolean;
}

/** One synth() call: records mb_synth writes into the tracer's ring buffer. */
export interface SynthPlan {
  /** Ring-buffer reservations to attempt in all (default: no limit, set durationMs). */
  records?: number;
  /** Stop after this long (default: when records are done). */
  durationMs?: number;
  /** Records per second, 0 (default) = as fast as the producer thread can. */
  rate?: number;
  /** Records per BPF_PROG_TEST_RUN (default 4096). */
  perRun?: number;
  /** Container index records and counters carry (a traced one, to reach the store). */
  container: number;
  netns?: number;
  /** packet_id of the first record; each next one counts up by 1 (default 0). */
  seq?: number;
}

export interface SynthOutcome {
  /** Reservations attempted (= records of the plan unless a run failed). */
  attempts: number;
  /** Records submitted to the ring buffer. */
  produced: number;
  /** Reservations that failed: the ring buffer was full. */
  lost: number;
  runs: number;
  /** CPU time of the producer thread (not Node's work), ns. */
  cpuNs: number;
  wallNs: number;
}

export type KernelFeature = 'kfunc' | 'tcx' | 'tcp-sendmsg-tp';

export interface NativeTracer {
  /** netnsPath: an nsfs file of netns, where the device gets the ingress stage as a tcx link ("device-ingress:tcx"). */
  setOuter(netns: number, ifindex: number, netnsPath: string): void;
  /** netnsPath as for setOuter, for the netns's devices; cgroup: the container's cgroup2 directory, which gets the egress socket-stage program */
  trace(netns: number, index: number, netnsPath: string, cgroup?: string): void;
  /** Attaches the ingress stage to devices that appeared in traced netns since, lets go of those that went. */
  refreshDevices(): void;
  untrace(netns: number): void;
  /** One struct mb_counters summed over CPUs. */
  counters(index: number): ArrayBuffer;
  /** callback(batch): whole struct mb_events; the batch is valid only during the call (detached after it: copy what you keep). */
  onEvents(callback: (batch: ArrayBuffer) => void): void;
  /** Kernel drops in a container by reason name (enum skb_drop_reason, lower case). */
  drops(index: number): Record<string, number>;
  /** Attach the EDT program at tcx egress of ifname in the netns (first call), set rate and horizon. */
  limit(netnsPath: string, ifname: string, netns: number, rateBytesPerSec: number, horizonNs: number, enforce: boolean): void;
  unlimit(netns: number): void;
  /** One struct mb_limit_state. */
  limitState(netns: number): ArrayBuffer;
  /** One BPF_PROG_TEST_RUN of the EDT program on an Ethernet frame, from inside netnsPath. */
  edtTestRun(packet: ArrayBuffer, netnsPath: string): { verdict: number; tstamp: bigint };
  /** Detaches the tracing programs; resolves once the last batch reached onEvents' callback. Maps stay readable. */
  drain(): Promise<void>;
  /** Turns on the kernel's BPF run-time accounting until close() (BPF_ENABLE_STATS: nothing global stays changed). */
  enableStats(): void;
  progStats(): ProgStats[];
  /** Kernel features in use and fallbacks taken, e.g. "cast:probe-read", "limit-attach:clsact". */
  features(): string[];
  /** Runs the synthetic producer on a thread of the libuv pool (needs { synth: true }). */
  synth(plan: SynthPlan): Promise<SynthOutcome>;
  close(): void;
}

export interface ProgStats {
  name: string;
  runTimeNs: number;
  runCount: number;
}

/** Sizes and offsets of the shared C structs, from offsetof() in the addon. */
export interface NativeLayout {
  eventSize: number;
  event: Record<string, number>;
  countersSize: number;
  dirCountersSize: number;
  dirCounters: Record<string, number>;
  limitStateSize: number;
  limitState: Record<string, number>;
  maxContainers: number;
  absent: number;
  sFromSender: number;
  rxTstamp: number;
}

interface Addon {
  Tracer: new (options: TracerOptions) => NativeTracer;
  layout: NativeLayout;
  clockPair(): [bigint, bigint];
  /** A container's limit as held by any macebpf process, or null. */
  findLimit(netns: number): { rate: number; horizonNs: number; enforce: boolean; state: ArrayBuffer } | null;
  /** Whether the reader of fd went away (pipe closed, terminal hung up). */
  outputGone(fd: number): boolean;
  /** A device's ifindex in the netns at path; 0 when the netns or the device is gone. */
  ifindexOf(netnsPath: string, name: string): number;
}

let addon: Addon | undefined;

export function loadAddon(): Addon {
  addon ??= bindings('macebpf') as Addon;
  return addon;
}
