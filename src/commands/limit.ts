// limit.ts - `macebpf limit`: hold an EDT egress limit on a container until
// Ctrl-C, printing the achieved rate and drops once a second.
import type { LimitSample } from '../core/limit-state';
import { formatNs, formatRate } from '../core/units';
import { BURST_NS } from '../host/gso';
import { Limits } from '../host/limits';
import { netnsPresent, resolveNetns } from '../host/netns';
import { Tracer } from '../host/tracer';
import { onShutdown } from './lifecycle';
import { untilStopped } from './stop';

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
  const tracer = new Tracer({ tracing: false });
  onShutdown(() => tracer.close());
  const limits = new Limits(tracer);
  onShutdown(() => limits.removeAll());
  const held = limits.set(ref, { rateBytesPerSec: args.rateBytesPerSec, horizonNs: args.horizonNs, dev: args.dev });
  process.stderr.write(
    `macebpf: limiting ${ref.label} egress on ${held.dev} to ${formatRate(args.rateBytesPerSec)}, horizon ${formatNs(held.horizon_ns)}, ` +
      (held.mode === 'fq'
        ? `paced by fq, at most ${held.gso?.segs} segments per packet (new connections; ${formatNs(BURST_NS)} at the rate)\n`
        : 'POLICING mode: this kernel has no sch_fq, so packets beyond the horizon are dropped instead of paced\n'),
  );

  const prev = new Map<number, LimitSample>();
  limits.read(ref.inode, prev);
  let report: NodeJS.Timeout | undefined;
  await untilStopped(
    args.durationNs,
    async () => {
      clearInterval(report);
      limits.removeAll();
    },
    (stop) => {
      report = setInterval(() => {
        if (!netnsPresent(ref)) {
          // The container ended: its device, and the limit on it, went with its netns.
          limits.forget(ref.inode);
          process.stderr.write(`macebpf: ${ref.label} ended (netns ${ref.inode} is gone), and its limit with it; stopping\n`);
          return stop();
        }
        const s = limits.read(ref.inode, prev)!.stats;
        process.stdout.write(`${ref.label}: ${formatRate(s.ratebps)} (${s.ratepps} pkt/s), packets ${s.packets}, delayed ${s.overlimits}, drops ${s.drops}, backlog ${s.backlog} B\n`);
      }, REPORT_MS);
    },
  );
}
