// limit.ts - `macebpf limit`: hold an EDT egress limit on a container until
// Ctrl-C, printing the achieved rate and drops once a second.
import { loadAddon } from '../core/addon';
import { defaultRouteIface } from '../core/iface';
import { bwLimitStatistics, type LimitSample } from '../core/limit-state';
import { resolveNetns } from '../core/netns';
import { defaultHorizonNs, installFq, kernelHasFq, type LimitMode } from '../core/qdisc';
import { TraceSession } from '../core/session';
import { onShutdown } from '../core/shutdown';
import { formatNs, formatRate } from '../core/units';

export interface LimitArgs {
  netns: string;
  rateBytesPerSec: number;
  dev?: string;
  horizonNs?: number;
  durationNs?: number;
}

const REPORT_MS = 1000;

export async function runLimit(args: LimitArgs): Promise<void> {
  const ref = resolveNetns(args.netns);
  const dev = args.dev ?? defaultRouteIface(ref);
  const mode: LimitMode = kernelHasFq() ? 'fq' : 'police';
  const horizonNs = args.horizonNs ?? defaultHorizonNs(mode, args.rateBytesPerSec);

  const session = new TraceSession({ tracing: false });
  onShutdown(() => session.close());
  if (mode === 'fq') onShutdown(installFq(ref, dev));
  session.limit(ref, dev, args.rateBytesPerSec, horizonNs, mode === 'fq');
  onShutdown(() => session.unlimit(ref));
  process.stderr.write(
    `macebpf: limiting ${ref.label} egress on ${dev} to ${formatRate(args.rateBytesPerSec)}, horizon ${formatNs(horizonNs)}, ` +
      (mode === 'fq'
        ? 'paced by fq\n'
        : 'POLICING mode: this kernel has no sch_fq, so packets beyond the horizon are dropped instead of paced\n'),
  );

  const sample = (): LimitSample => ({ state: session.limitState(ref), monoNs: loadAddon().clockPair()[1] });
  let prev = sample();
  const report = setInterval(() => {
    const now = sample();
    const s = bwLimitStatistics(now, prev, args.rateBytesPerSec);
    prev = now;
    process.stdout.write(`${ref.label}: ${formatRate(s.ratebps)} (${s.ratepps} pkt/s), packets ${s.packets}, delayed ${s.overlimits}, drops ${s.drops}, backlog ${s.backlog} B\n`);
  }, REPORT_MS);

  await new Promise<void>((resolve) => {
    if (args.durationNs !== undefined) setTimeout(resolve, args.durationNs / 1e6);
    onShutdown(resolve);
  });
  clearInterval(report);
}
