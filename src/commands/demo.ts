// demo.ts - `macebpf demo` (npm start): build the lab, keep traffic flowing
// from every container to the target, serve and trace it; Ctrl-C, SIGTERM
// or a closed stdout removes it all.
import { randomBytes } from 'node:crypto';
import { labDown, labUp, reapLabs } from '../lab/topology';
import { killAllTraffic, ping } from '../lab/traffic';
import { describeLab } from './lab';
import { onShutdown } from './lifecycle';
import { serveUntilStopped, startServer } from './serve';

const PING_INTERVAL_S = 0.05;

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
  onShutdown(killAllTraffic);
  process.stderr.write(describeLab(lab) + '\n');
  for (const [i, c] of lab.containers.entries()) {
    // Alternate IPv4 and IPv6 so both show up; errors end with the demo.
    void ping(c.name, i % 2 ? lab.target.ip6 : lab.target.ip4, { count: 1_000_000, intervalS: PING_INTERVAL_S, v6: i % 2 === 1 }).catch(() => undefined);
  }
  const server = await startServer({
    host: args.host,
    port: args.port,
    netns: lab.containers.map((c) => c.name),
    outer: lab.host.uplink,
    outerNetns: lab.host.name,
  });
  process.stderr.write(`macebpf: dashboard ${server.url}#token=${server.token.value}\n`);
  await serveUntilStopped(server, args.durationNs);
}
