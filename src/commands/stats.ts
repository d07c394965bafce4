// stats.ts - `macebpf stats`: trace containers for an interval, then print
// their Mesos-style statistics JSON (one array per interval).
import type { TracerOptions } from '../host/addon';
import { Limits } from '../host/limits';
import { resolveNetns } from '../host/netns';
import { StatisticsCollector } from '../host/statistics';
import { Tracing } from '../host/tracing';
import { writeOrWait } from '../host/write-or-wait';
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
    // A slow reader holds the next sample back; one that goes away ends the process (src/entry.ts).
    await writeOrWait(process.stdout, JSON.stringify(collector.collect(), null, 2) + '\n');
    if (tracing.store.traced.length === 0) {
      process.stderr.write(ALL_ENDED_NOTE);
      break;
    }
  }
}
