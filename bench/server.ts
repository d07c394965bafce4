// server.ts - what serving costs (issue 6, DESIGN §9): the real daemon
// (src/server/server.ts) in this process tracing c1 and c2 while both flood
// at the lab's highest record rate (pipeline's icmp+udp), with 0, 1 and 10
// WebSocket clients in a child process (bench/server-clients.ts, so their
// CPU is theirs, not the daemon's), conditions interleaved per repetition.
// Per condition: this process's CPU per record ingested (process.cpuUsage:
// JS thread, poller thread and the kernel work of its syscalls, including
// loopback TCP sends), the BPF programs' run time per record (the daemon's
// BPF_ENABLE_STATS), what the clients received, and the bytes per record.
// Serving = the CPU and BPF time per record above the same repetition's
// 0-client run; tracing = the 0-client run's. Plus the memory of a full
// store (bench/server-store.ts, a fresh process with --expose-gc).
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { onShutdown } from '../src/commands/lifecycle';
import { Server } from '../src/server/server';
import { startIperfServer, type IperfServer } from '../src/lab/traffic';
import { checkAborted, log, sleep, type BenchContext } from './context';
import { pingFlood, type FloodRun } from './ping';
import { udpFlood, UDP_LEN, type UdpFlood } from './pipeline';
import type { ChildMessage, ClientsReport, ParentMessage } from './server-clients';
import { cpuAccounting, type CpuAccounting } from './server-cpu';
import type { StoreMemory } from './server-store';
import { spread, type Spread } from './stats';

export const CLIENT_COUNTS = [0, 1, 10] as const;
export type ClientCount = (typeof CLIENT_COUNTS)[number];

export interface ServerRep {
  rep: number;
  clients: ClientCount;
  seconds: number;
  /** records the daemon ingested (its 'records' events) */
  records: number;
  recordsPerS: number;
  /** tracer batches ('records' events): one frame per batch and client */
  batches: number;
  meanBatch: number;
  /** ring-buffer records the kernel lost (counters' lost, traced containers + slot 0) */
  lost: number;
  /** this process's CPU over the run (user + system), µs */
  serverCpuUs: number;
  serverCpuUsPerRecord: number;
  serverCpuPercent: number;
  /** run time of the daemon's BPF programs over the run (null: stats unavailable) */
  bpfRunTimeNs: number | null;
  bpfNsPerRecord: number | null;
  /** hub counters over the run */
  droppedFrames: number;
  droppedRecords: number;
  /** clients × records − dropped records: what the hub handed to sockets */
  recordsSent: number;
  /** what the clients decoded */
  received: Omit<ClientsReport, 'type'>;
  /** received / (clients × records) */
  deliveredFraction: number | null;
  /** record-frame payload bytes per record received */
  frameBytesPerRecord: number | null;
  /** the same with the WebSocket frame headers */
  wireBytesPerRecord: number | null;
  /** the clients' process CPU per record received, µs */
  clientCpuUsPerRecordReceived: number | null;
  /** ms after the flood's drain until the clients had everything */
  catchUpMs: number;
  traffic: { icmp: FloodRun; udp: UdpFlood };
}

export interface ServerClientsSummary {
  clients: ClientCount;
  recordsPerS: Spread;
  meanBatch: Spread;
  serverCpuUsPerRecord: Spread;
  serverCpuPercent: Spread;
  bpfNsPerRecord: Spread | null;
  /** per repetition, minus the same repetition's 0-client run */
  extraCpuUsPerRecord: Spread | null;
  extraBpfNsPerRecord: Spread | null;
  deliveredFraction: Spread | null;
  droppedRecords: Spread;
  frameBytesPerRecord: Spread | null;
  wireBytesPerRecord: Spread | null;
  clientCpuUsPerRecordReceived: Spread | null;
}

/**
 * Two readings of "serving 10 clients costs less than the tracing itself",
 * each per repetition, cost = daemon CPU µs + BPF run time µs per record:
 * - 'vs-0': serving = run(10) − run(0), tracing = run(0). As asked, but
 *   the poller hands over smaller batches when the machine is idler (0
 *   clients: ~15 records per batch, with clients ~55), which makes run(0)
 *   dearer per record.
 * - 'batch-matched': from the 1- and 10-client runs, whose batches match:
 *   one client's share c = (run(10) − run(1)) / 9, serving 10 = 10c,
 *   tracing = run(1) − c (encoding, done once per batch for every client,
 *   is then counted as tracing).
 */
export interface ServerGoal {
  basis: 'vs-0' | 'batch-matched';
  tracingUsPerRecord: Spread;
  serving10UsPerRecord: Spread;
  /** serving10 / tracing per repetition */
  ratio: Spread;
  /** repetitions in which serving 10 clients cost less than tracing */
  metReps: number;
  reps: number;
  /** the median ratio is below 1 */
  met: boolean;
}

export interface ServerResult {
  flows: string;
  seconds: number;
  reps: number;
  tracerOptions: string;
  features: string[];
  /** how the kernel accounts task CPU time (null: unknown) */
  cpuAccounting: CpuAccounting | null;
  runs: ServerRep[];
  summary: ServerClientsSummary[];
  /** 'vs-0', then 'batch-matched'; empty without BPF run time */
  goals: ServerGoal[];
  store: StoreMemory;
}

const DIST_BENCH = __dirname; // dist/bench: the compiled children sit next to this file
const IPERF_PORT = 5203;

/** The clients' child process: connected and subscribed when this resolves. */
class Clients {
  private readonly child: ChildProcess;
  private waiting: { type: ChildMessage['type']; resolve: (m: ChildMessage) => void; reject: (e: Error) => void } | undefined;
  private exited = false;

  private constructor(url: string, n: number) {
    this.child = fork(path.join(DIST_BENCH, 'server-clients.js'), [url, String(n)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: ChildMessage) => {
      const w = this.waiting;
      if (!w) return;
      if (m.type === 'failed') w.reject(new Error(`WebSocket clients: ${m.error}`));
      else if (m.type === w.type) w.resolve(m);
      else return;
      this.waiting = undefined;
    });
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.waiting?.reject(new Error(`WebSocket clients exited (${signal ?? code})`));
      this.waiting = undefined;
    });
  }

  static async start(url: string, n: number): Promise<Clients> {
    const c = new Clients(url, n);
    try {
      await c.next('ready', 20_000);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  private next(type: ChildMessage['type'], timeoutMs: number, msg?: ParentMessage): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`WebSocket clients: no '${type}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      if (msg) this.child.send(msg);
    });
  }

  async reset(): Promise<void> {
    await this.next('reset', 10_000, { type: 'reset' });
  }

  async report(): Promise<ClientsReport> {
    return (await this.next('report', 10_000, { type: 'report' })) as ClientsReport;
  }

  /** Ends the child (ours, by its pid through ChildProcess.kill) and waits for it. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    await Promise.race([gone, sleep(3000)]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

function storeMemory(): StoreMemory {
  const out = execFileSync(process.execPath, ['--expose-gc', path.join(DIST_BENCH, 'server-store.js'), '100000'], { encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out) as StoreMemory;
}

function bpfRunTime(server: Server): number | null {
  if (!server.daemon.features.includes('bpf-run-time')) return null;
  return server.daemon.tracing.tracer.progStats().reduce((s, p) => s + p.runTimeNs, 0);
}

function lostTotal(server: Server): number {
  const t = server.daemon.tracing;
  const indices = [0, ...t.store.traced.map((c) => c.index)];
  return indices.reduce((s, i) => {
    const k = t.tracer.counters(i);
    return s + k.egress.lost + k.ingress.lost;
  }, 0);
}

async function oneRun(ctx: BenchContext, server: Server, url: string, iperf: IperfServer, rep: number, n: ClientCount, seconds: number): Promise<ServerRep> {
  checkAborted();
  const clients = await Clients.start(url, n);
  try {
    let records = 0;
    let batches = 0;
    const onRecords = (cols: { length: number }): void => {
      records += cols.length;
      batches++;
    };
    await sleep(300); // what came before is drained
    await clients.reset();
    const dropped0 = { frames: server.hub.droppedFrames, records: server.hub.droppedRecords };
    const lost0 = lostTotal(server);
    const bpf0 = bpfRunTime(server);
    server.daemon.on('records', onRecords);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let icmp: FloodRun;
    let udp: UdpFlood;
    try {
      [icmp, udp] = await Promise.all([pingFlood(ctx.c1.name, ctx.lab.target.ip4, seconds), udpFlood(ctx.c2.name, ctx.lab.target.ip4, iperf.port, seconds)]);
      await sleep(500); // the poller drains at least every 50 ms
    } finally {
      server.daemon.off('records', onRecords);
    }
    // Frames the hub queued in ws's buffers are still being written: the
    // daemon's CPU for them belongs to this run, so wait until the clients
    // have everything the hub did not drop (or stop getting more).
    const tCatch = performance.now();
    let report = await clients.report();
    for (let last = -1, stalledSince = performance.now(); n > 0 && performance.now() - tCatch < 15_000; ) {
      const expected = n * records - (server.hub.droppedRecords - dropped0.records);
      if (report.records >= expected) break;
      if (report.records !== last) {
        last = report.records;
        stalledSince = performance.now();
      } else if (performance.now() - stalledSince > 1000) break;
      await sleep(100);
      report = await clients.report();
    }
    const catchUpMs = performance.now() - tCatch;
    const cpu = process.cpuUsage(cpu0);
    const wallS = (performance.now() - t0) / 1000;
    const bpf1 = bpfRunTime(server);
    report = await clients.report();
    const serverCpuUs = cpu.user + cpu.system;
    const droppedRecords = server.hub.droppedRecords - dropped0.records;
    const bpfRunTimeNs = bpf0 !== null && bpf1 !== null ? bpf1 - bpf0 : null;
    const { type: _type, ...received } = report;
    const per = (x: number, d: number): number | null => (d > 0 ? x / d : null);
    return {
      rep,
      clients: n,
      seconds,
      records,
      recordsPerS: records / seconds,
      batches,
      meanBatch: records / batches,
      lost: lostTotal(server) - lost0,
      serverCpuUs,
      serverCpuUsPerRecord: serverCpuUs / records,
      serverCpuPercent: serverCpuUs / 1e4 / wallS,
      bpfRunTimeNs,
      bpfNsPerRecord: bpfRunTimeNs === null ? null : bpfRunTimeNs / records,
      droppedFrames: server.hub.droppedFrames - dropped0.frames,
      droppedRecords,
      recordsSent: n * records - droppedRecords,
      received,
      deliveredFraction: per(received.records, n * records),
      frameBytesPerRecord: per(received.payloadBytes, received.records),
      wireBytesPerRecord: per(received.payloadBytes + received.headerBytes, received.records),
      clientCpuUsPerRecordReceived: per(received.cpuUs, received.records),
      catchUpMs,
      traffic: { icmp, udp },
    };
  } finally {
    await clients.stop();
    // The hub forgets closed clients on their close event: wait for it, so the next run starts with none.
    for (let i = 0; i < 30 && server.hub.count > 0; i++) await sleep(100);
  }
}

const nonNull = (xs: Array<number | null>): number[] => xs.filter((x): x is number => x !== null);
const spreadOrNull = (xs: Array<number | null>): Spread | null => (nonNull(xs).length ? spread(nonNull(xs)) : null);

/** Tracing vs serving 10 clients within each repetition. */
function goal(runs: ServerRep[], basis: ServerGoal['basis']): ServerGoal | null {
  const byRep = (n: ClientCount): Map<number, ServerRep> => new Map(runs.filter((r) => r.clients === n).map((r) => [r.rep, r] as const));
  const [zero, one] = [byRep(0), byRep(1)];
  const cost = (r: ServerRep): number | null => (r.bpfNsPerRecord === null ? null : r.serverCpuUsPerRecord + r.bpfNsPerRecord / 1000);
  const tracing: number[] = [];
  const serving: number[] = [];
  for (const r of runs.filter((x) => x.clients === 10)) {
    const ten = cost(r);
    const base = (basis === 'vs-0' ? zero : one).get(r.rep);
    const b = base ? cost(base) : null;
    if (ten === null || b === null) continue;
    if (basis === 'vs-0') {
      tracing.push(b);
      serving.push(ten - b);
    } else {
      const share = (ten - b) / 9;
      tracing.push(b - share);
      serving.push(10 * share);
    }
  }
  if (!tracing.length) return null;
  const ratio = spread(serving.map((s, i) => s / tracing[i]!));
  return {
    basis,
    tracingUsPerRecord: spread(tracing),
    serving10UsPerRecord: spread(serving),
    ratio,
    metReps: serving.filter((s, i) => s < tracing[i]!).length,
    reps: tracing.length,
    met: ratio.median < 1,
  };
}

function summarize(runs: ServerRep[]): ServerClientsSummary[] {
  const zero = new Map(runs.filter((r) => r.clients === 0).map((r) => [r.rep, r] as const));
  return CLIENT_COUNTS.map((n): ServerClientsSummary => {
    const rs = runs.filter((r) => r.clients === n);
    const vsZero = (f: (r: ServerRep) => number | null): Spread | null =>
      n === 0
        ? null
        : spreadOrNull(
            rs.map((r) => {
              const z = zero.get(r.rep);
              const a = f(r);
              const b = z ? f(z) : null;
              return a !== null && b !== null ? a - b : null;
            }),
          );
    return {
      clients: n,
      recordsPerS: spread(rs.map((r) => r.recordsPerS)),
      meanBatch: spread(rs.map((r) => r.meanBatch)),
      serverCpuUsPerRecord: spread(rs.map((r) => r.serverCpuUsPerRecord)),
      serverCpuPercent: spread(rs.map((r) => r.serverCpuPercent)),
      bpfNsPerRecord: spreadOrNull(rs.map((r) => r.bpfNsPerRecord)),
      extraCpuUsPerRecord: vsZero((r) => r.serverCpuUsPerRecord),
      extraBpfNsPerRecord: vsZero((r) => r.bpfNsPerRecord),
      deliveredFraction: n === 0 ? null : spreadOrNull(rs.map((r) => r.deliveredFraction)),
      droppedRecords: spread(rs.map((r) => r.droppedRecords)),
      frameBytesPerRecord: spreadOrNull(rs.map((r) => r.frameBytesPerRecord)),
      wireBytesPerRecord: spreadOrNull(rs.map((r) => r.wireBytesPerRecord)),
      clientCpuUsPerRecordReceived: spreadOrNull(rs.map((r) => r.clientCpuUsPerRecordReceived)),
    };
  });
}

export async function runServer(ctx: BenchContext): Promise<ServerResult> {
  const seconds = ctx.quick ? 2 : 3;
  const reps = ctx.quick ? 2 : 5; // per-record CPU of one run varies by ±0.4 µs (GC, scheduling): more reps, not longer ones
  const store = storeMemory();
  log(`server: store of 1 container × 2 directions × ${store.capacity} records: ${(store.measuredBytes / 1e6).toFixed(2)} MB measured (${store.measuredBytesPerRecord.toFixed(1)} B/record), ${(store.computedBytes / 1e6).toFixed(2)} MB computed`);

  // The daemon as `macebpf serve` builds it (default tracer options), on a free port.
  const server = new Server({ host: '127.0.0.1', port: 0, outer: ctx.outer, tracer: {}, tokenFile: `/run/macebpf/bench-serve-${process.pid}.token` });
  const unregister = onShutdown(() => server.close());
  let iperf: IperfServer | undefined;
  const runs: ServerRep[] = [];
  try {
    server.daemon.trace(ctx.c1.name, { remote: false });
    server.daemon.trace(ctx.c2.name, { remote: false });
    const port = await server.listen();
    const url = `ws://127.0.0.1:${port}/ws`;
    iperf = await startIperfServer(ctx.lab.target.name, { port: IPERF_PORT });
    log(`server: daemon on ${url} tracing c1, c2 (${server.daemon.features.join(', ')}); ${reps} reps × ${CLIENT_COUNTS.join('/')} clients, ${seconds} s floods`);
    for (let rep = 0; rep < reps; rep++) {
      // Rotate the order so no condition always follows the same one.
      const order = CLIENT_COUNTS.map((_, i) => CLIENT_COUNTS[(i + rep) % CLIENT_COUNTS.length]!);
      for (const n of order) {
        const r = await oneRun(ctx, server, url, iperf, rep, n, seconds);
        runs.push(r);
        log(
          `server: rep ${rep} ${n} clients: ${Math.round(r.recordsPerS)} records/s, ${r.meanBatch.toFixed(0)} per batch, ${r.serverCpuUsPerRecord.toFixed(2)} µs daemon CPU/record, ` +
            `BPF ${r.bpfNsPerRecord?.toFixed(0) ?? 'n/a'} ns/record, received ${r.received.records}/${n * r.records}, dropped ${r.droppedRecords}, lost ${r.lost}`,
        );
      }
    }
  } finally {
    await iperf?.stop();
    await server.close();
    unregister();
  }
  const features = server.daemon.features;
  return {
    flows: `c1: ping -i 0, and c2: iperf3 -u -b 0 -l ${UDP_LEN}, at once (pipeline's icmp+udp, the lab's highest record rate), both traced by the daemon`,
    seconds,
    reps,
    tracerOptions: 'defaults as in `macebpf serve`: wake-up every 64 records, socket stage on',
    features,
    cpuAccounting: cpuAccounting(),
    runs,
    summary: summarize(runs),
    goals: (['vs-0', 'batch-matched'] as const).map((b) => goal(runs, b)).filter((g): g is ServerGoal => g !== null),
    store,
  };
}
