// pipeline.ts - ring buffer → poller thread → JS batches → decoded columns
// → record store (DESIGN §9): flood traffic from traced containers for a few
// seconds and count what reaches the session's 'records' listener, what the
// kernel lost (ring buffer full), and records per packet (coverage) at that
// rate; then the synthetic producer (bpf/synth.bpf.c) fills the same ring as
// fast as it can, for the ceiling of the pipeline rather than of the lab's
// traffic, and paced below it, checking produced = delivered + lost exactly.
import { coverage, type ContainerCounters, type DirCounters } from '../src/core/counters';
import { DIRECTIONS, type RecordColumns } from '../src/core/records';
import { nsExec } from '../src/lab/exec';
import { startIperfServer, type IperfServer } from '../src/lab/traffic';
import type { NetnsRef } from '../src/host/netns';
import type { SynthOutcome } from '../src/host/tracer';
import { log, sleep, startTracing, type BenchContext, type Tracing } from './context';
import { pingFlood, type FloodRun } from './ping';
import { threadCpuDelta, threadCpuNs, type ThreadCpu } from './threads';

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp6' };

export interface PipelineScenario {
  name: string;
  description: string;
  seconds: number;
  /** records delivered to the 'records' listener, by container label, direction and protocol */
  records: number;
  recordsPerS: number;
  /** highest records in one 1-second slot */
  peakRecordsPerS: number;
  batches: number;
  meanBatch: number;
  /** CPU time of the node process (JS thread + poller thread + the rest) per record, µs */
  cpuUsPerRecord: number;
  cpuPercent: number;
  /** cpuUsPerRecord by thread (schedstat): JS thread, poller, others (GC, compiler) */
  threadUsPerRecord: ThreadCpu;
  byKind: Record<string, number>;
  /** counters' lost (ring buffer reservations that failed), all containers + slot 0 */
  lost: number;
  /** per traced container and direction: kernel counters (deltas) and coverage = events / packets */
  counters: Record<string, { egress: DirCounters & { coverage: number }; ingress: DirCounters & { coverage: number } }>;
  /** traffic as the generators report it */
  traffic: Record<string, unknown>;
  /** records of the generator's own protocol / its packets (ping: requests sent, replies received; UDP: datagrams sent) */
  trafficCoverage: Record<string, number>;
}

/** A run of the synthetic producer through the same session. */
export interface SynthScenario {
  name: string;
  description: string;
  /** ceiling: as fast as it can; paced: a fraction of the ceiling; flood-rate: paced at the real floods' rate, alone or beside an untraced flood */
  group: 'ceiling' | 'paced' | 'flood-rate';
  /** traffic running meanwhile that produces no records (flood-rate runs) */
  beside?: string;
  /** records/s asked for; 0 = as fast as the producer can */
  rate: number;
  seconds: number;
  /** reservations the producer attempted; = delivered + lost when the accounting is exact */
  attempted: number;
  attemptedPerS: number;
  /** records that reached the store (its per-container count) */
  delivered: number;
  deliveredPerS: number;
  /** the counters' lost of the synthetic container (ring buffer full) */
  lost: number;
  /** attempted = delivered + lost, and the counters' events = delivered */
  exact: boolean;
  batches: number;
  meanBatch: number;
  /** Node's CPU per delivered record, µs: the process's minus the producer thread's */
  cpuUsPerRecord: number;
  cpuPercent: number;
  threadUsPerRecord: ThreadCpu;
  /** the producer thread's CPU (not Node's work), % of one CPU */
  producerCpuPercent: number;
  producer: SynthOutcome;
}

export interface PipelineResult {
  wakeupRecords: number;
  scenarios: PipelineScenario[];
  synthetic?: SynthScenario[];
  /** delivered records/s with the producer at full speed */
  ceilingPerS?: number;
}

function sub(a: DirCounters, b: DirCounters): DirCounters {
  const out = { ...a };
  for (const k of Object.keys(a) as (keyof DirCounters)[]) out[k] = a[k] - b[k];
  return out;
}

function counterDelta(a: ContainerCounters, b: ContainerCounters): ContainerCounters {
  return { egress: sub(a.egress, b.egress), ingress: sub(a.ingress, b.ingress) };
}

interface Flow {
  container: string;
  kind: 'icmp' | 'udp';
}

export interface UdpFlood {
  sentPackets?: number;
  receivedPackets?: number;
  lostPackets?: number;
  sentPerS?: number;
  error?: string;
}

/** iperf3 UDP at unlimited rate with small datagrams: the most packets per second a container can send. */
export async function udpFlood(ns: string, target: string, port: number, seconds: number): Promise<UdpFlood> {
  const args = ['-c', target, '-p', String(port), '-u', '-b', '0', '-l', String(UDP_LEN), '-t', String(seconds), '-J', '--connect-timeout', '3000'];
  const r = await nsExec(ns, 'iperf3', args, { timeoutMs: (seconds + 20) * 1000, okCodes: [1] });
  type Sum = { packets?: number; lost_packets?: number; seconds?: number };
  let doc: { error?: string; end?: { sum?: Sum; sum_sent?: Sum; sum_received?: Sum } };
  try {
    doc = JSON.parse(r.stdout) as typeof doc;
  } catch {
    throw new Error(`iperf3 UDP flood: output is not JSON: ${(r.stderr || r.stdout).slice(-300)}`);
  }
  if (doc.error !== undefined) throw new Error(`iperf3 UDP flood: ${doc.error}`);
  const sent = doc.end?.sum_sent ?? doc.end?.sum;
  const recv = doc.end?.sum_received ?? doc.end?.sum;
  const out: UdpFlood = {};
  if (sent?.packets !== undefined) out.sentPackets = sent.packets;
  if (recv?.packets !== undefined) out.receivedPackets = recv.packets;
  if (recv?.lost_packets !== undefined) out.lostPackets = recv.lost_packets;
  if (sent?.packets !== undefined && sent.seconds) out.sentPerS = sent.packets / sent.seconds;
  return out;
}

export const UDP_LEN = 64;

async function scenario(
  ctx: BenchContext,
  tracing: Tracing,
  server: IperfServer,
  name: string,
  description: string,
  flows: Flow[],
  seconds: number,
): Promise<PipelineScenario> {
  const session = tracing.session;
  const labels = new Map<number, string>();
  for (const [ns, idx] of tracing.index) labels.set(idx, ns === ctx.c1.name ? 'c1' : ns === ctx.c2.name ? 'c2' : ns);
  const indices = [0, ...tracing.index.values()];
  await sleep(300); // drain what came before
  const before = new Map(indices.map((i) => [i, session.tracer.counters(i)] as const));
  let records = 0;
  let batches = 0;
  // Counted by (container, direction, protocol) in a typed array: the
  // benchmark's own listener must not be what the CPU per record measures.
  const kinds = new Float64Array(256 * 2 * 256);
  const slots: number[] = [];
  const t0 = performance.now();
  const listener = (cols: RecordColumns): void => {
    records += cols.length;
    batches++;
    const slot = Math.floor((performance.now() - t0) / 1000);
    slots[slot] = (slots[slot] ?? 0) + cols.length;
    const { container, dir, proto } = cols;
    for (let i = 0; i < cols.length; i++) kinds[(container[i]! << 9) | ((dir[i]! & 1) << 8) | proto[i]!]!++;
  };
  session.on('records', listener);
  const threads0 = threadCpuNs();
  const cpu0 = process.cpuUsage();
  const target = ctx.lab.target.ip4;
  let flood: FloodRun | undefined;
  const traffic: Record<string, unknown> = {};
  const trafficCoverage: Record<string, number> = {};
  try {
    await Promise.all(
      flows.map(async (f) => {
        const who = f.container === ctx.c1.name ? 'c1' : 'c2';
        if (f.kind === 'icmp') {
          flood = await pingFlood(f.container, target, seconds);
          traffic[`${who}/icmp`] = flood;
        } else {
          traffic[`${who}/udp`] = await udpFlood(f.container, target, server.port, seconds);
        }
      }),
    );
    await sleep(500); // the poller drains at least every 50 ms
  } finally {
    session.off('records', listener);
  }
  const cpu = process.cpuUsage(cpu0);
  const threads = threadCpuDelta(threads0, threadCpuNs());
  const wallS = (performance.now() - t0) / 1000;
  const byKind: Record<string, number> = {};
  kinds.forEach((n, k) => {
    if (n) byKind[`${labels.get(k >> 9) ?? k >> 9}/${DIRECTIONS[(k >> 8) & 1]}/${PROTO_NAMES[k & 255] ?? k & 255}`] = n;
  });
  const counters: PipelineScenario['counters'] = {};
  let lost = 0;
  for (const i of indices) {
    const d = counterDelta(session.tracer.counters(i), before.get(i)!);
    lost += d.egress.lost + d.ingress.lost;
    if (i === 0 || !flows.some((f) => tracing.index.get(f.container) === i)) continue; // sources only
    counters[labels.get(i) ?? String(i)] = {
      egress: { ...d.egress, coverage: coverage(d.egress) },
      ingress: { ...d.ingress, coverage: coverage(d.ingress) },
    };
  }
  for (const [k, t] of Object.entries(traffic)) {
    const [who, kind] = k.split('/') as [string, string];
    if (kind === 'icmp') {
      const f = t as FloodRun;
      trafficCoverage[`${who}/egress/icmp per request sent`] = (byKind[`${who}/egress/icmp`] ?? 0) / f.transmitted;
      trafficCoverage[`${who}/ingress/icmp per reply received`] = (byKind[`${who}/ingress/icmp`] ?? 0) / f.received;
    } else {
      const u = t as UdpFlood;
      if (u.sentPackets) trafficCoverage[`${who}/egress/udp per datagram sent`] = (byKind[`${who}/egress/udp`] ?? 0) / u.sentPackets;
    }
  }
  const cpuUs = cpu.user + cpu.system;
  return {
    name,
    description,
    seconds,
    records,
    recordsPerS: records / seconds,
    peakRecordsPerS: Math.max(0, ...slots.filter((x) => x !== undefined)),
    batches,
    meanBatch: batches ? records / batches : NaN,
    cpuUsPerRecord: records ? cpuUs / records : NaN,
    cpuPercent: (cpuUs / 1e4) / wallS,
    threadUsPerRecord: perRecord(threads, records),
    byKind,
    lost,
    counters,
    traffic,
    trafficCoverage,
  };
}

/** The run with the median delivered rate. */
function medianRun(runs: SynthScenario[]): SynthScenario {
  return [...runs].sort((a, b) => a.deliveredPerS - b.deliveredPerS)[Math.floor(runs.length / 2)]!;
}

function perRecord(t: ThreadCpu, n: number): ThreadCpu {
  return { js: t.js / 1000 / n, poller: t.poller / 1000 / n, other: t.other / 1000 / n, jsUser: t.jsUser / 1000 / n, jsSystem: t.jsSystem / 1000 / n };
}

// A netns inode no namespace has (the kernel numbers them from 0xF0000000):
// the synthetic records' container, apart from every traced packet's.
const SYNTH_REF: NetnsRef = { spec: 'synth', path: '/proc/self/ns/net', inode: 1, label: 'synth' };

async function synthScenario(
  tracing: Tracing,
  index: number,
  group: SynthScenario['group'],
  name: string,
  description: string,
  rate: number,
  seconds: number,
  beside?: string,
): Promise<SynthScenario> {
  const session = tracing.session;
  const stored = session.store.byKernelIndex(index)!;
  await sleep(300); // drain what came before
  const before = session.tracer.counters(index);
  const records0 = stored.records;
  let batches = 0;
  let delivered = 0;
  const listener = (cols: RecordColumns): void => {
    batches++;
    delivered += cols.length;
  };
  session.on('records', listener);
  const threads0 = threadCpuNs();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let producer: SynthOutcome;
  try {
    // paced: a run every ~0.5 ms, so the ring sees a steady flow
    const perRun = rate ? Math.max(1, Math.min(65536, Math.round(rate / 2000))) : 4096;
    producer = await session.tracer.synth({ durationMs: seconds * 1000, rate, perRun, container: index, netns: SYNTH_REF.inode });
    await sleep(300); // the poller hands over every 10-50 ms
  } finally {
    session.off('records', listener);
  }
  const cpu = process.cpuUsage(cpu0);
  const threads = threadCpuDelta(threads0, threadCpuNs());
  threads.other -= producer.cpuNs; // the producer runs on a libuv pool thread
  const wallS = (performance.now() - t0) / 1000;
  const k = session.tracer.counters(index);
  const lost = k.egress.lost + k.ingress.lost - (before.egress.lost + before.ingress.lost);
  const events = k.egress.events + k.ingress.events - (before.egress.events + before.ingress.events);
  const got = stored.records - records0;
  const nodeUs = cpu.user + cpu.system - producer.cpuNs / 1000;
  const prodS = producer.wallNs / 1e9;
  return {
    name,
    description,
    group,
    ...(beside ? { beside } : {}),
    rate,
    seconds,
    attempted: producer.attempts,
    attemptedPerS: producer.attempts / prodS,
    delivered: got,
    deliveredPerS: got / prodS,
    lost,
    exact: producer.attempts === got + lost && events === got && producer.lost === lost,
    batches,
    meanBatch: batches ? delivered / batches : NaN,
    cpuUsPerRecord: got ? nodeUs / got : NaN,
    cpuPercent: nodeUs / 1e4 / wallS,
    threadUsPerRecord: perRecord(threads, got),
    producerCpuPercent: producer.cpuNs / 1e7 / prodS,
    producer,
  };
}

export async function runPipeline(ctx: BenchContext): Promise<PipelineResult> {
  const seconds = ctx.quick ? 2 : 3;
  const wakeupRecords = 64;
  log(`pipeline: floods of ${seconds} s from traced containers`);
  // synth: the synthetic producer is loaded too (records only when asked for)
  const tracing = await startTracing(ctx, { wakeupRecords, synth: true }, [ctx.c1, ctx.c2]);
  let server: IperfServer | undefined;
  const scenarios: PipelineScenario[] = [];
  const synthetic: SynthScenario[] = [];
  let ceilingPerS: number | undefined;
  try {
    server = await startIperfServer(ctx.lab.target.name, { port: 5202 });
    const plan: Array<[string, string, Flow[]]> = [
      ['icmp-flood', 'c1: ping -i 0 (back to back) to the target', [{ container: ctx.c1.name, kind: 'icmp' }]],
      ['udp-flood', `c1: iperf3 -u -b 0 -l ${UDP_LEN} (unlimited rate) to the target`, [{ container: ctx.c1.name, kind: 'udp' }]],
      ['icmp+udp', `c1: ping -i 0, and c2: iperf3 -u -b 0 -l ${UDP_LEN}, at once (two traced containers)`, [{ container: ctx.c1.name, kind: 'icmp' }, { container: ctx.c2.name, kind: 'udp' }]],
    ];
    // Warm-up, not recorded: V8 compiles the decode and store paths (on its
    // own threads) once, as in any long-running tracer; without it the first
    // scenario pays for that.
    const index = tracing.session.trace(SYNTH_REF).index;
    await synthScenario(tracing, index, 'paced', 'warm-up', '', 1_000_000, 1);
    for (const [name, desc, flows] of plan) {
      const s = await scenario(ctx, tracing, server, name, desc, flows, seconds);
      scenarios.push(s);
      log(`pipeline: ${name}: ${Math.round(s.recordsPerS)} records/s delivered, lost ${s.lost}, ${s.cpuUsPerRecord.toFixed(2)} µs node CPU per record`);
    }
    // Three runs at full speed: this VM's speed varies from minute to minute.
    const fulls: SynthScenario[] = [];
    for (let rep = 1; rep <= 3; rep++) {
      fulls.push(await synthScenario(tracing, index, 'ceiling', `synthetic-ceiling #${rep}`, 'synthetic producer as fast as it can (bpf_loop into the ring, from a libuv pool thread)', 0, seconds));
    }
    synthetic.push(...fulls);
    const full = medianRun(fulls);
    ceilingPerS = full.deliveredPerS;
    for (const f of [0.25, 0.5, 0.8]) {
      const rate = Math.round((full.deliveredPerS * f) / 1000) * 1000;
      synthetic.push(await synthScenario(tracing, index, 'paced', `synthetic-${Math.round(f * 100)}%`, `synthetic producer paced at ${f * 100}% of the ceiling`, rate, seconds));
    }
    // The same pipeline at the floods' rate, alone and beside an untraced
    // container's ping flood (the host's packet work without records; this
    // kernel has no IRQ time accounting, so softirq work that interrupts a
    // Node thread is charged to it): separates the floods' cost per record
    // from the rate's and from the host's packet work.
    const floodRate = Math.round(Math.max(...scenarios.map((x) => x.recordsPerS)) / 1000) * 1000;
    const untraced = ctx.neighbours.find((n) => n.name !== ctx.c2.name);
    synthetic.push(await synthScenario(tracing, index, 'flood-rate', 'synthetic-flood-rate', `synthetic producer paced at the floods' highest rate, host otherwise idle`, floodRate, seconds));
    if (untraced) {
      const beside = `c${ctx.lab.containers.indexOf(untraced) + 1}: ping -i 0 to the target, untraced`;
      const [run] = await Promise.all([
        synthScenario(tracing, index, 'flood-rate', 'synthetic-flood-rate-beside-flood', `synthetic producer paced at the floods' highest rate, beside an untraced container's ping flood`, floodRate, seconds, beside),
        pingFlood(untraced.name, ctx.lab.target.ip4, seconds + 1),
      ]);
      synthetic.push(run);
    }
    for (const s of synthetic) {
      log(`pipeline: ${s.name}: ${Math.round(s.attemptedPerS)} attempted/s, ${Math.round(s.deliveredPerS)} delivered/s, lost ${s.lost}, exact ${s.exact}, ${s.cpuUsPerRecord.toFixed(3)} µs node CPU per record`);
    }
  } finally {
    await server?.stop();
    tracing.close();
  }
  return { wakeupRecords, scenarios, synthetic, ceilingPerS };
}
