// stats.ts - `macebpf stats`: trace containers for an interval, then print
// their Mesos-style statistics JSON (one array per interval).
import { resolveNetns } from '../core/netns';
import { TraceSession } from '../core/session';
import { onShutdown } from '../core/shutdown';
import { StatisticsCollector } from '../core/statistics';
import type { TracerOptions } from '../core/addon';

export interface StatsArgs {
  netns: string[];
  intervalNs: number;
  count: number;
  tracer?: TracerOptions;
}

export async function runStats(args: StatsArgs): Promise<void> {
  if (args.netns.length === 0) throw new Error('stats needs at least one --netns SPEC (an ip netns name, a path, or pid:N)');
  const refs = args.netns.map((spec) => resolveNetns(spec));
  const session = new TraceSession(args.tracer);
  onShutdown(() => session.close());
  const collector = new StatisticsCollector(session);
  for (const ref of refs) collector.baseline(session.trace(ref));
  for (let i = 0; i < args.count; i++) {
    await new Promise((r) => setTimeout(r, args.intervalNs / 1e6));
    process.stdout.write(JSON.stringify(collector.collect(), null, 2) + '\n');
  }
}
