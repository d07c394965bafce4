// bpfstats.ts - the kernel's own accounting of BPF run time (DESIGN §9):
// with kernel.bpf_stats_enabled=1 every program counts run_cnt and
// run_time_ns. The benchmark turns the sysctl on only while it measures and
// restores the previous value afterwards, also on failure and SIGINT. A
// marker file records the previous value so that a run killed by SIGKILL is
// repaired by the next one.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from '../src/lab/exec';

const SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';
const MARKER = '/run/macebpf/bench-bpf-stats.json';

export function statsEnabled(): number {
  return Number(fs.readFileSync(SYSCTL, 'utf8').trim());
}

function setStats(v: number): void {
  fs.writeFileSync(SYSCTL, `${v}\n`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A previous bench run that died without restoring the sysctl: restore it now. */
export function repairStaleStats(): string | undefined {
  let m: { pid: number; previous: number } | undefined;
  try {
    m = JSON.parse(fs.readFileSync(MARKER, 'utf8')) as { pid: number; previous: number };
  } catch {
    return undefined;
  }
  if (pidAlive(m.pid)) return undefined;
  setStats(m.previous);
  fs.rmSync(MARKER, { force: true });
  return `restored kernel.bpf_stats_enabled=${m.previous} left behind by bench run ${m.pid}`;
}

export interface StatsGuard {
  previous: number;
  restore(): void;
}

/** Turn kernel.bpf_stats_enabled on; restore() puts back the previous value (idempotent). */
export function enableStats(): StatsGuard {
  const previous = statsEnabled();
  fs.mkdirSync(path.dirname(MARKER), { recursive: true });
  fs.writeFileSync(MARKER, JSON.stringify({ pid: process.pid, previous }) + '\n');
  setStats(1);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    setStats(previous);
    fs.rmSync(MARKER, { force: true });
  };
  process.once('exit', restore);
  return { previous, restore };
}

export interface ProgStat {
  id: number;
  name: string;
  type: string;
  runTimeNs: number;
  runCnt: number;
}

interface BpftoolProg {
  id: number;
  name?: string;
  type?: string;
  run_time_ns?: number;
  run_cnt?: number;
}

/** All loaded BPF programs with their counters (`bpftool prog show -j`). */
export async function progStats(): Promise<Map<number, ProgStat>> {
  const { stdout } = await run('bpftool', ['prog', 'show', '-j'], { timeoutMs: 20_000 });
  const out = new Map<number, ProgStat>();
  for (const p of JSON.parse(stdout) as BpftoolProg[]) {
    out.set(p.id, { id: p.id, name: p.name ?? '', type: p.type ?? '', runTimeNs: p.run_time_ns ?? 0, runCnt: p.run_cnt ?? 0 });
  }
  return out;
}

/** Programs attached through perf events by pid (`bpftool perf show -j`): how bpftrace attaches tracepoints. */
export async function perfAttachments(pid: number): Promise<Array<{ fd: number; progId: number; fdType: string; tracepoint: string }>> {
  const { stdout } = await run('bpftool', ['perf', 'show', '-j'], { timeoutMs: 20_000 });
  const rows = JSON.parse(stdout || '[]') as Array<{ pid: number; fd: number; prog_id: number; tracepoint?: string; fd_type?: string }>;
  return rows
    .filter((r) => r.pid === pid)
    .map((r) => ({ fd: r.fd, progId: r.prog_id, fdType: r.fd_type ?? '', tracepoint: r.tracepoint ?? '' }))
    .sort((a, b) => a.fd - b.fd);
}

export interface ProgDelta {
  id: number;
  name: string;
  runTimeNs: number;
  runCnt: number;
  /** ns per run (per hook hit) */
  nsPerHit: number;
}

/** Counter differences of the given programs between two snapshots. */
export function deltas(before: Map<number, ProgStat>, after: Map<number, ProgStat>, ids: readonly number[]): ProgDelta[] {
  return ids.map((id) => {
    const a = after.get(id);
    const b = before.get(id);
    if (!a) throw new Error(`BPF program ${id} disappeared during the measurement`);
    const runTimeNs = a.runTimeNs - (b?.runTimeNs ?? 0);
    const runCnt = a.runCnt - (b?.runCnt ?? 0);
    return { id, name: a.name, runTimeNs, runCnt, nsPerHit: runCnt > 0 ? runTimeNs / runCnt : NaN };
  });
}
