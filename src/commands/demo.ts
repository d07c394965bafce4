// demo.ts - `macebpf demo` (npm start): build the lab, keep a traffic mix
// flowing (demo-traffic.ts), limit the container with the bulk flow, serve
// and trace it all, print the dashboard URL with its token. Ctrl-C, SIGTERM
// or a closed stdout removes everything it made (lifecycle.ts, last made
// first: server and limit, traffic, lab).
import { randomBytes } from 'node:crypto';
import { formatRate, parseRate } from '../core/units';
import { labDown, labUp, reapLabs } from '../lab/topology';
import { killAllTraffic } from '../lab/traffic';
import { describeLab } from './lab';
import { onShutdown } from './lifecycle';
import { startDemoTraffic } from './demo-traffic';
import { serveUntilStopped, startServer } from './serve';

/** Well below the bulk flow's offered rate, so the limit visibly holds it back. */
export const DEMO_LIMIT = '10mbit';

export interface DemoArgs {
  containers: number;
  durationNs?: number;
  host: string;
  port: number;
}

export async function runDemo(args: DemoArgs): Promise<void> {
  await reapLabs(); // labs of demos that were SIGKILLed
  // The cleanup is registered before the lab exists: a signal while it is
  // being built waits for the build, then removes what was built.
  const id = randomBytes(3).toString('hex');
  const building = labUp({ containers: args.containers, id });
  onShutdown(async () => {
    await building.catch(() => undefined);
    await labDown(id);
  });
  const lab = await building;
  onShutdown(killAllTraffic); // anything a generator left, by pid
  const traffic = await startDemoTraffic(lab);
  onShutdown(() => traffic.stop());
  process.stderr.write(describeLab(lab) + '\n');
  for (const [name, flows] of traffic.mix) process.stderr.write(`macebpf: ${name}: ${flows.join('; ')}\n`);
  const server = await startServer({
    host: args.host,
    port: args.port,
    netns: lab.containers.map((c) => c.name),
    outer: lab.host.uplink,
    outerNetns: lab.host.name,
  });
  const limited = server.daemon.tracing.store.traced.find((c) => c.spec === traffic.bulk || c.label === traffic.bulk);
  if (limited) {
    server.daemon.setLimit(limited.label, { rate: DEMO_LIMIT });
    const mode = server.daemon.limits.get(limited.netns)?.mode;
    process.stderr.write(`macebpf: ${limited.label} limited to ${formatRate(parseRate(DEMO_LIMIT))} (${mode === 'fq' ? 'pacing with fq' : 'policing: this kernel has no sch_fq, packets over the rate are dropped'})\n`);
  }
  process.stderr.write(`macebpf: dashboard ${server.url}#token=${server.token.value}\n`);
  await serveUntilStopped(server, args.durationNs);
}
