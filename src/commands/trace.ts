// trace.ts - `macebpf trace`: trace containers, show the live table on a TTY,
// write every record to CSV (DESIGN §5).
import { createWriteStream } from 'node:fs';
import { CsvWriter, type LatencyRow } from '../core/csv';
import { defaultRouteIface, resolveIface, type OuterDevice } from '../core/iface';
import { currentNetns, resolveNetns, type NetnsRef } from '../core/netns';
import { DIRECTIONS, PROTOCOLS, type RecordColumns } from '../core/records';
import { TraceSession, type TracedContainer } from '../core/session';
import { onShutdown } from '../core/shutdown';
import type { TracerOptions } from '../core/addon';
import { renderTable, tableRows } from './live-table';

export interface TraceArgs {
  netns: string[];
  outer?: string;
  outerNetns?: string;
  durationNs?: number;
  csv?: string;
  tracer?: TracerOptions;
}

const REDRAW_MS = 1000;

/** The outer device named on the command line, or the default route's device (DESIGN §5). */
export function resolveOuter(outer: string | undefined, outerNetns: string | undefined): OuterDevice {
  const ns = outerNetns ? resolveNetns(outerNetns) : currentNetns();
  return resolveIface(ns, outer ?? defaultRouteIface(ns));
}

export function csvRows(cols: RecordColumns, wallNs: BigInt64Array, lookup: (index: number) => TracedContainer | undefined): LatencyRow[] {
  const rows: LatencyRow[] = [];
  for (let i = 0; i < cols.length; i++) {
    const c = lookup(cols.container[i]);
    rows.push({
      timestampNs: BigInt.asUintN(64, wallNs[i]),
      container: c?.label ?? `#${cols.container[i]}`,
      netns: cols.netns[i],
      direction: DIRECTIONS[cols.dir[i]],
      protocol: PROTOCOLS[cols.proto[i]] ?? String(cols.proto[i]),
      latencyNs: cols.totalNs[i],
      stackNs: Number.isNaN(cols.stackNs[i]) ? null : cols.stackNs[i],
      virtNs: Number.isNaN(cols.virtNs[i]) ? null : cols.virtNs[i],
      packetId: cols.packetId[i],
    });
  }
  return rows;
}

export async function runTrace(args: TraceArgs): Promise<void> {
  if (args.netns.length === 0) throw new Error('trace needs at least one --netns SPEC (an ip netns name, a path, or pid:N)');
  const refs: NetnsRef[] = args.netns.map((spec) => resolveNetns(spec));
  const outer = resolveOuter(args.outer, args.outerNetns);

  const session = new TraceSession(args.tracer);
  onShutdown(() => session.close());
  session.addOuter(outer);
  for (const ref of refs) session.trace(ref);

  const csv = args.csv ? new CsvWriter(createWriteStream(args.csv)) : undefined;
  if (csv) {
    // CsvWriter queues batches in order and waits for drain; a failure is
    // sticky and reported by close() below.
    session.on('records', (cols, wall) => void csv.write(csvRows(cols, wall, (i) => session.container(i))).catch(() => undefined));
  }

  const tty = process.stdout.isTTY === true;
  const labels = refs.map((r) => r.label).join(', ');
  process.stderr.write(`macebpf: tracing ${labels} via outer device ${outer.name} (netns ${outer.netns.label})${args.csv ? `, writing ${args.csv}` : ''}; Ctrl-C stops\n`);
  const redraw = tty ? setInterval(() => process.stdout.write('\x1b[H\x1b[J' + renderTable(tableRows(session))), REDRAW_MS) : undefined;

  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const timer = args.durationNs !== undefined ? setTimeout(stop, args.durationNs / 1e6) : undefined;
  const finished = stopped.then(async () => {
    clearTimeout(timer);
    if (redraw) clearInterval(redraw);
    // Let the poller hand over what is still in the ring, then stop the kernel side.
    await new Promise((r) => setTimeout(r, 150));
    const rows = tableRows(session);
    session.close();
    await csv?.close();
    process.stdout.write((tty ? '\x1b[H\x1b[J' : '') + renderTable(rows));
  });
  // Ctrl-C / SIGTERM: finish the CSV and the table before the process exits.
  const unregister = onShutdown(async () => {
    stop();
    await finished;
  });
  await finished;
  unregister();
}
