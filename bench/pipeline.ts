// pipeline.ts - ring buffer → poller thread → JS batches → decoded columns
// (DESIGN §9): flood traffic from traced containers for a few seconds and
// count what reaches the session's 'records' listener, what the kernel lost
// (ring buffer full), and records per packet (coverage) at that rate.
import { coverage, type ContainerCounters, type DirCounters } from '../src/core/counters';
import { DIRECTIONS, type RecordColumns } from '../src/core/records';
import { nsExec } from '../src/lab/exec';
import { startIperfServer, type IperfServer } from '../src/lab/traffic';
import { log, sleep, startTracing, type BenchContext, type Tracing } from './context';
import { pingFlood, type FloodRun } from './ping';

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
  /** CPU time of the node process (JS thread + poller thread) per record, µs */
  cpuUsPerRecord: number;
  cpuPercent: number;
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

export interface PipelineResult {
  wakeupRecords: number;
  scenarios: PipelineScenario[];
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
  const byKind: Record<string, number> = {};
  const slots: number[] = [];
  const t0 = performance.now();
  const listener = (cols: RecordColumns): void => {
    records += cols.length;
    batches++;
    const slot = Math.floor((performance.now() - t0) / 1000);
    slots[slot] = (slots[slot] ?? 0) + cols.length;
    for (let i = 0; i < cols.length; i++) {
      const k = `${labels.get(cols.container[i]!) ?? cols.container[i]}/${DIRECTIONS[cols.dir[i]!]}/${PROTO_NAMES[cols.proto[i]!] ?? cols.proto[i]}`;
      byKind[k] = (byKind[k] ?? 0) + 1;
    }
  };
  session.on('records', listener);
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
  const wallS = (performance.now() - t0) / 1000;
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
    byKind,
    lost,
    counters,
    traffic,
    trafficCoverage,
  };
}

export async function runPipeline(ctx: BenchContext): Promise<PipelineResult> {
  const seconds = ctx.quick ? 2 : 3;
  const wakeupRecords = 64;
  log(`pipeline: floods of ${seconds} s from traced containers`);
  const tracing = await startTracing(ctx, { wakeupRecords }, [ctx.c1, ctx.c2]);
  let server: IperfServer | undefined;
  const scenarios: PipelineScenario[] = [];
  try {
    server = await startIperfServer(ctx.lab.target.name, { port: 5202 });
    const plan: Array<[string, string, Flow[]]> = [
      ['icmp-flood', 'c1: ping -i 0 (back to back) to the target', [{ container: ctx.c1.name, kind: 'icmp' }]],
      ['udp-flood', `c1: iperf3 -u -b 0 -l ${UDP_LEN} (unlimited rate) to the target`, [{ container: ctx.c1.name, kind: 'udp' }]],
      ['icmp+udp', `c1: ping -i 0, and c2: iperf3 -u -b 0 -l ${UDP_LEN}, at once (two traced containers)`, [{ container: ctx.c1.name, kind: 'icmp' }, { container: ctx.c2.name, kind: 'udp' }]],
    ];
    for (const [name, desc, flows] of plan) {
      const s = await scenario(ctx, tracing, server, name, desc, flows, seconds);
      scenarios.push(s);
      log(`pipeline: ${name}: ${Math.round(s.recordsPerS)} records/s delivered, lost ${s.lost}, ${s.cpuUsPerRecord.toFixed(2)} µs node CPU per record`);
    }
  } finally {
    await server?.stop();
    tracing.close();
  }
  return { wakeupRecords, scenarios };
}
