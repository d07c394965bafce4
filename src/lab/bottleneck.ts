// bottleneck.ts - a real shared bottleneck for the lab: a TBF qdisc on the
// host's uplink (the outer device), so containers contend for a link slower
// than veth, as they would for a NIC. Its queue holds up to `latency` worth
// of data at the rate; a flooding container fills it and its neighbours wait
// behind (the noisy-neighbour case, docs/kernels.md). Lives only in the lab's
// host namespace, which labDown removes with everything in it.
import { run } from './exec';
import type { Lab } from './types';

export interface Bottleneck {
  /** tc rate, e.g. "300mbit" */
  rate: string;
  /** queue of the bottleneck as time at the rate (tc tbf latency), default "50ms" */
  latency?: string;
}

const TC_RATE_RE = /^\d+(\.\d+)?(bit|kbit|mbit|gbit)$/;

/** Shapes the lab's uplink with TBF; returns what removes it again. */
export async function shapeUplink(lab: Lab, b: Bottleneck): Promise<() => Promise<void>> {
  if (!TC_RATE_RE.test(b.rate)) throw new Error(`shapeUplink: rate must be a tc rate like 300mbit, got ${JSON.stringify(b.rate)}`);
  const ns = lab.host.name;
  const dev = lab.host.uplink;
  // burst: 64 KiB covers one GSO packet, so TBF need not split every one of them.
  await run('tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'tbf', 'rate', b.rate, 'burst', '64kb', 'latency', b.latency ?? '50ms']);
  return async () => {
    await run('tc', ['-n', ns, 'qdisc', 'del', 'dev', dev, 'root'], { okCodes: [2] });
  };
}
