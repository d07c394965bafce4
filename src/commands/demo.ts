// demo.ts - `macebpf demo` (npm start): build the lab, keep traffic flowing
// from every container to the target, trace it; Ctrl-C removes it all.
import { onShutdown } from '../core/shutdown';
import { labDown, labUp, reapLabs } from '../lab/topology';
import { killAllTraffic, ping } from '../lab/traffic';
import { describeLab } from './lab';
import { runTrace } from './trace';

const PING_INTERVAL_S = 0.05;

export async function runDemo(containers: number, durationNs?: number): Promise<void> {
  await reapLabs(); // labs of demos that were SIGKILLed
  const lab = await labUp({ containers });
  onShutdown(() => labDown(lab));
  onShutdown(killAllTraffic);
  process.stderr.write(describeLab(lab) + '\n');
  for (const [i, c] of lab.containers.entries()) {
    // Alternate IPv4 and IPv6 so both show up; errors end with the demo.
    void ping(c.name, i % 2 ? lab.target.ip6 : lab.target.ip4, { count: 1_000_000, intervalS: PING_INTERVAL_S, v6: i % 2 === 1 }).catch(() => undefined);
  }
  await runTrace({
    netns: lab.containers.map((c) => c.name),
    outer: lab.host.uplink,
    outerNetns: lab.host.name,
    durationNs,
  });
}
