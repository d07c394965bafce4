// ping.ts - `macebpf ping`: runs the system ping inside a container, joins
// every echo with its egress and ingress records, and prints per echo the raw
// RTT, the parts it subtracts, the corrected RTT and the RTT at the outer
// device measured in the kernel; then a summary (docs/measurement.md). With
// `--csv -` the echoes' CSV goes to stdout and the table to stderr.
import * as readline from 'node:readline';
import { parsePingLine, parsePingSummary } from '../core/ping-output';
import { DIRECTIONS } from '../core/records';
import { ECHO_CSV_HEADER, EchoJoin, formatEchoRow, quantilesOf, type Echo } from '../core/rtt-join';
import { formatNs } from '../core/units';
import { CsvWriter } from '../host/csv-writer';
import { resolveOuter } from '../host/iface';
import { resolveNetns } from '../host/netns';
import { spawnInNetns } from '../host/nsexec';
import { Tracing } from '../host/tracing';
import { csvTarget } from './csv-target';
import { onShutdown } from './lifecycle';

export interface PingArgs {
  netns: string;
  target: string;
  count: number;
  intervalS: number;
  size?: number;
  family?: 4 | 6;
  outer?: string;
  outerNetns?: string;
  csv?: string;
}

const ICMP = new Set([1, 58]);
const TAKE_MS = 100; // how often waiting replies are looked at
const COLUMNS = ['seq', 'raw', 'egress', 'ingress', 'corrected', 'outer'];

const fmt = (ns: number): string => (Number.isFinite(ns) ? formatNs(ns) : '-');
const row = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padStart(6) : c.padStart(11))).join('') + '\n';

function pingArgs(a: PingArgs): string[] {
  // -W: without any reply, give up 2 s after the last request (ping's default is 10 s).
  const args = ['-D', '-n', '-W', '2', '-c', String(a.count), '-i', String(a.intervalS)];
  if (a.size !== undefined) args.push('-s', String(a.size));
  if (a.family) args.push(`-${a.family}`);
  return [...args, a.target];
}

export async function runPing(args: PingArgs): Promise<void> {
  const ref = resolveNetns(args.netns);
  const outer = resolveOuter(args.outer, args.outerNetns);
  const target = csvTarget(args.csv);
  const tracing = new Tracing();
  onShutdown(() => tracing.close());
  tracing.tracer.addOuter(outer);
  const container = tracing.trace(ref);
  const store = tracing.store;
  const join = new EchoJoin(store.baseNs);
  const nowT = (): number => store.tOfWallMs(Date.now());
  tracing.on('records', (cols, t) => {
    for (let i = 0; i < cols.length; i++) {
      if (cols.container[i] !== container.index || !ICMP.has(cols.proto[i])) continue;
      join.record(DIRECTIONS[cols.dir[i]], cols.packetId[i], { t: t[i], total: cols.totalNs[i], stack: cols.stackNs[i], virt: cols.virtNs[i] });
    }
  });

  const table = target.human;
  const csv = target.stream ? new CsvWriter<Echo>(target.stream, ECHO_CSV_HEADER, (e) => formatEchoRow(e, store.baseNs)) : undefined;
  const echoes: Echo[] = [];
  // The header comes with the first row or the summary: a ping that fails
  // to start (bad target, wrong family) prints its error alone.
  let headed = false;
  const head = (): void => {
    if (!headed) table.write(row(COLUMNS));
    headed = true;
  };
  const emit = (list: Echo[]): void => {
    for (const e of list) {
      head();
      echoes.push(e);
      table.write(row([String(e.seq), fmt(e.rawNs), fmt(e.egressNs), fmt(e.ingressNs), fmt(e.correctedNs), fmt(e.outerNs)]));
    }
    if (csv && list.length) void csv.write(list).catch(() => undefined); // failures surface in close()
  };

  process.stderr.write(`macebpf: ping ${args.target} from ${container.label} (outer device ${outer.name} in netns ${outer.netns.label})\n`);
  const child = spawnInNetns(ref, 'ping', pingArgs(args));
  onShutdown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
  });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    out += line + '\n';
    const reply = parsePingLine(line);
    if (reply) join.reply(reply, nowT());
  });
  const timer = setInterval(() => emit(join.take(nowT())), TAKE_MS);
  const status = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, error: e }));
    child.once('close', (code) => resolve({ code }));
  });
  clearInterval(timer);
  await tracing.close(); // every record the kernel emitted has reached the join
  emit(join.flush());
  if (csv) await target.close(() => csv.close());

  if (status.error) {
    const why = (status.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ping (iputils-ping) or nsenter (util-linux) is not installed' : status.error.message;
    throw new Error(`cannot run ping in ${container.label}: ${why}`);
  }
  const summary = parsePingSummary(out);
  if (status.code === 2 || !summary) throw new Error(`ping ${args.target} in ${container.label} failed (exit ${status.code}): ${err.trim() || 'no output'}`);
  const matched = echoes.filter((e) => e.matched);
  const q = (pick: (e: Echo) => number): string => {
    const v = quantilesOf(matched.map(pick));
    return `${fmt(v.p50)} / ${fmt(v.p90)} / ${fmt(v.p99)}`;
  };
  head();
  table.write(
    `--- ${args.target} from ${container.label}: ${summary.sent} sent, ${summary.received} replies, ${matched.length} matched (${summary.received ? ((100 * matched.length) / summary.received).toFixed(1) : '0.0'}%)\n` +
      `p50 / p90 / p99: raw ${q((e) => e.rawNs)}, egress ${q((e) => e.egressNs)}, ingress ${q((e) => e.ingressNs)}, corrected ${q((e) => e.correctedNs)}, outer ${q((e) => e.outerNs)}\n`,
  );
  if (summary.received > 0 && matched.length === 0) {
    throw new Error(
      `none of ${summary.received} replies could be matched with its records: check that the echoes leave by the outer device ${outer.name} (netns ${outer.netns.label}); pass --outer and --outer-netns for the device where packets leave the host`,
    );
  }
  if (summary.received === 0) throw new Error(`${args.target} did not answer any of ${summary.sent} echoes from ${container.label}: check that the container reaches it`);
}
