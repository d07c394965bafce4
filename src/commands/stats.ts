// stats.ts - `macebpf stats`: trace containers for an interval, then print
// their Mesos-style statistics JSON (one array per interval).
import type { TracerOptions } from '../host/addon';
import { Limits } from '../host/limits';
import { resolveNetns } from '../host/netns';
import { StatisticsCollector } from '../host/statistics';
import { Tracing } from '../host/tracing';
import { ALL_ENDED_NOTE, endedNote } from './gone';
import { onShutdown } from './lifecycle';

export interface StatsArgs {
  netns: string[];
  intervalNs: number;
  count: number;
  tracer?: TracerOptions;
}

export async function runStats(args: StatsArgs): Promise<void> {
  if (args.netns.length === 0) throw new Error('stats needs at least one --netns SPEC (an ip netns name, a path, or pid:N)');
  const refs = args.netns.map((spec) => resolveNetns(spec));
  const tracing = new Tracing(args.tracer);
  onShutdown(() => tracing.close());
  const collector = new StatisticsCollector(tracing, new Limits(tracing.tracer));
  for (const ref of refs) {
    tracing.trace(ref);
    collector.baseline(ref);
  }
  for (let i = 0; i < args.count; i++) {
    await new Promise((r) => setTimeout(r, args.intervalNs / 1e6));
    for (const c of tracing.reapEnded()) process.stderr.write(endedNote(c));
    await print(JSON.stringify(collector.collect(), null, 2) + '\n');
    if (tracing.store.traced.length === 0) {
      process.stderr.write(ALL_ENDED_NOTE);
      break;
    }
  }
}

// A reader slower than the samples holds the next sample back rather than
// letting them pile up in memory; a reader that goes away ends the process
// (src/entry.ts), so 'close' only has to release the wait.
async function print(text: string): Promise<void> {
  if (process.stdout.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      process.stdout.off('drain', done).off('close', done);
      resolve();
    };
    process.stdout.on('drain', done).on('close', done);
  });
}
