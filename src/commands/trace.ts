// trace.ts - `macebpf trace`: trace containers, show the live table on a TTY,
// write every record to CSV (DESIGN §5; `--csv -`: to stdout, the table to stderr).
import { rowsFromBatch } from '../core/csv';
import type { TracerOptions } from '../host/addon';
import { latencyCsv } from '../host/csv-writer';
import { resolveOuter } from '../host/iface';
import { resolveNetns, type NetnsRef } from '../host/netns';
import { Tracing } from '../host/tracing';
import { CSV_TO_STDOUT, csvTarget } from './csv-target';
import { ALL_ENDED_NOTE, watchGone } from './gone';
import { onShutdown } from './lifecycle';
import { finalTable, liveTable, tableRows } from './live-table';
import { untilStopped } from './stop';

export interface TraceArgs {
  netns: string[];
  outer?: string;
  outerNetns?: string;
  durationNs?: number;
  csv?: string;
  tracer?: TracerOptions;
}

export async function runTrace(args: TraceArgs): Promise<void> {
  if (args.netns.length === 0) throw new Error('trace needs at least one --netns SPEC (an ip netns name, a path, or pid:N)');
  const refs: NetnsRef[] = args.netns.map((spec) => resolveNetns(spec));
  const outer = resolveOuter(args.outer, args.outerNetns);
  const target = csvTarget(args.csv);

  const tracing = new Tracing(args.tracer);
  onShutdown(() => tracing.close());
  tracing.tracer.addOuter(outer);
  for (const ref of refs) tracing.trace(ref);

  const csv = target.stream ? latencyCsv(target.stream) : undefined;
  if (csv) {
    const base = tracing.store.baseNs;
    // CsvWriter queues batches in order and waits for drain; a failure is
    // sticky and reported by close() below.
    tracing.on('records', (cols, t) => void csv.write(rowsFromBatch(cols, t, base, (i) => tracing.labelOf(i))).catch(() => undefined));
  }

  const labels = tracing.store.traced.map((c) => c.label).join(', ');
  process.stderr.write(`macebpf: tracing ${labels} via outer device ${outer.name} (netns ${outer.netns.label})${args.csv === undefined ? '' : args.csv === CSV_TO_STDOUT ? ', CSV to standard output' : `, writing ${args.csv}`}; Ctrl-C stops\n`);
  const stopTable = liveTable(tracing, target.live);
  let stopWatch = (): void => undefined;

  // A run whose containers all ended is over: it ends as after --duration.
  await untilStopped(args.durationNs, async () => {
    stopWatch();
    stopTable();
    await tracing.close(); // the last batches reach the CSV writer before this resolves
    const rows = tableRows(tracing);
    if (csv) await target.close(() => csv.close());
    target.human.write(finalTable(rows, target.live));
  }, (stop) => {
    stopWatch = watchGone(tracing, outer, (note) => process.stderr.write(note), () => {
      process.stderr.write(ALL_ENDED_NOTE);
      stop();
    });
  });
}
