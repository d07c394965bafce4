// context.ts - what every benchmark section shares: the lab (its own
// namespaces, removed in any case), the traced container, the outer device,
// trace sessions that are always closed, and progress output.
import { resolveIface, type OuterDevice } from '../src/host/iface';
import { resolveNetns, type NetnsRef } from '../src/host/netns';
import type { RecordColumns } from '../src/core/records';
import type { TracerOptions } from '../src/host/tracer';
import { Tracing as HostTracing } from '../src/host/tracing';
import { onShutdown } from '../src/commands/lifecycle';
import { labDown, labUp, reapLabs, type Lab, type LabContainer } from '../src/lab/topology';
import { killAllTraffic } from '../src/lab/traffic';
import { progStats } from './bpfstats';

export interface BenchContext {
  lab: Lab;
  /** the container all sections send from (traced when tracing is on) */
  c1: LabContainer;
  c1Ref: NetnsRef;
  /** a second container (pipeline: a second traced source) */
  c2: LabContainer;
  c2Ref: NetnsRef;
  /** every container but c1 */
  neighbours: LabContainer[];
  outer: OuterDevice;
  quick: boolean;
}

let abortedBy: string | undefined;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => (abortedBy ??= sig));

/** Set once a signal asked the run to stop (cleanup is then under way): start nothing new. */
export function aborted(): string | undefined {
  return abortedBy;
}

/** Throw when the run is being stopped, so no section loads anything after cleanup began. */
export function checkAborted(): void {
  if (abortedBy) throw new Error(`stopped by ${abortedBy}`);
}

export function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lab up, with labDown registered for normal exit, failure and SIGINT. */
export async function setUp(quick: boolean): Promise<{ ctx: BenchContext; tearDown: () => Promise<void> }> {
  const reaped = await reapLabs();
  if (reaped.length) log(`removed stale labs: ${reaped.join(', ')}`);
  // c1 measures, c2 is the pipeline's second source; c2..c4 flood as
  // neighbours in the accuracy section (MACE's worst case: 3 of them).
  const lab = await labUp({ containers: 4 });
  let down = false;
  const tearDown = async (): Promise<void> => {
    if (down) return;
    down = true;
    closeAllSessions();
    killAllTraffic();
    await labDown(lab);
  };
  onShutdown(tearDown);
  const [c1, c2] = lab.containers as [LabContainer, LabContainer];
  const ctx: BenchContext = {
    lab,
    c1,
    c1Ref: resolveNetns(c1.name),
    c2,
    c2Ref: resolveNetns(c2.name),
    neighbours: lab.containers.slice(1),
    outer: resolveIface(resolveNetns(lab.host.name), lab.host.uplink),
    quick,
  };
  log(`lab ${lab.id}: ${c1.name} (${c1.ip4}) → bridge+NAT → ${lab.host.uplink} → ${lab.target.name} (${lab.target.ip4})`);
  return { ctx, tearDown };
}

const openSessions = new Set<HostTracing>();

function closeAllSessions(): void {
  for (const s of openSessions) void s.close();
  openSessions.clear();
}

export interface Tracing {
  session: HostTracing;
  /** container index of c1 (and c2 when traced) */
  index: Map<string, number>;
  /** ids of the session's BPF programs (names start with mb_) */
  progIds: number[];
  records(): number;
  close(): void;
}

/**
 * Load macebpf (a tracer feeding a store, as the CLI builds it: outer device set, the
 * given containers traced, a 'records' listener counting what arrives).
 */
export async function startTracing(ctx: BenchContext, opts: TracerOptions = {}, containers: LabContainer[] = [ctx.c1]): Promise<Tracing> {
  const before = await progStats();
  checkAborted();
  const session = new HostTracing(opts);
  openSessions.add(session);
  try {
    session.tracer.addOuter(ctx.outer);
    const index = new Map<string, number>();
    for (const c of containers) index.set(c.name, session.trace(c === ctx.c1 ? ctx.c1Ref : c === ctx.c2 ? ctx.c2Ref : resolveNetns(c.name)).index);
    let n = 0;
    session.on('records', (cols: RecordColumns) => (n += cols.length));
    const after = await progStats();
    const progIds = [...after.values()].filter((p) => !before.has(p.id) && p.name.startsWith('mb_')).map((p) => p.id);
    if (progIds.length === 0) throw new Error('no mb_* BPF programs appeared after loading the tracer');
    return {
      session,
      index,
      progIds,
      records: () => n,
      close: () => {
        void session.close();
        openSessions.delete(session);
      },
    };
  } catch (e) {
    void session.close();
    openSessions.delete(session);
    throw e;
  }
}
