// serve.ts - `macebpf serve`: the daemon (DESIGN §5) until Ctrl-C or SIGTERM,
// which end CSV streams, close WebSocket clients with 1001, detach every BPF
// program and exit 0 (143 for SIGTERM, like every command here).
import type { TracerOptions } from '../host/addon';
import { resolveOuter } from '../host/iface';
import { Server } from '../server/server';
import { endedNote, outerGoneNote } from './gone';
import { onShutdown } from './lifecycle';
import { finalTable, liveTable, tableRows } from './live-table';
import { untilStopped } from './stop';

export interface ServeArgs {
  host: string;
  port: number;
  netns?: string[];
  outer?: string;
  outerNetns?: string;
  tokenFile?: string;
  tracer?: TracerOptions;
  durationNs?: number;
}

/** Starts the daemon and traces `netns`; resolves once it listens. */
export async function startServer(args: ServeArgs): Promise<Server> {
  const outer = resolveOuter(args.outer, args.outerNetns);
  const server = new Server({ host: args.host, port: args.port, tokenFile: args.tokenFile, tracer: args.tracer, outer });
  onShutdown(() => server.close());
  for (const spec of args.netns ?? []) server.daemon.trace(spec, { remote: false });
  server.daemon.on('ended', (c) => process.stderr.write(endedNote(c)));
  server.daemon.on('outerGone', () => process.stderr.write(outerGoneNote(outer)));
  const port = await server.listen();
  const traced = server.daemon.tracing.store.traced.map((c) => c.label);
  process.stderr.write(
    `macebpf: serving ${server.url} (port ${port}); token in ${server.tokenFile}\n` +
      `macebpf: outer device ${outer.name} (netns ${outer.netns.label}); tracing ${traced.length ? traced.join(', ') : 'nothing yet'}; features: ${server.daemon.features.join(', ')}\n` +
      (server.daemon.clocksource === 'tsc' ? '' : `macebpf: warning: clocksource is ${server.daemon.clocksource}, not tsc: timestamps cost more and are coarser\n`),
  );
  return server;
}

/** Serves until --duration or a stop, with the live table on a TTY; prints the table once more at the end. */
export async function serveUntilStopped(server: Server, durationNs: number | undefined): Promise<void> {
  const tracing = server.daemon.tracing;
  const stopTable = liveTable(tracing, process.stdout);
  await untilStopped(durationNs, async () => {
    stopTable();
    await server.close();
    process.stdout.write(finalTable(tableRows(tracing), process.stdout));
  });
}

export async function runServe(args: ServeArgs): Promise<void> {
  await serveUntilStopped(await startServer(args), args.durationNs);
}
