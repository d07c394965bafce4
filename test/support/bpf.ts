// bpf.ts - which of our BPF programs (names mb_*) a process left in the
// kernel. Programs of other macebpf processes running meanwhile (a bench, a
// demo) are told apart by the ids present before and their owner pids.
import { run } from '../../src/lab/exec';

interface Prog {
  id: number;
  name?: string;
  pids?: { pid: number }[];
}

async function progs(): Promise<Prog[]> {
  const { stdout } = await run('bpftool', ['prog', 'list', '-j']);
  return (JSON.parse(stdout) as Prog[]).filter((p) => p.name?.startsWith('mb_'));
}

/** Ids of mb_* programs loaded now. */
export async function ourProgramIds(): Promise<Set<number>> {
  return new Set((await progs()).map((p) => p.id));
}

/** mb_* programs loaded since `before` that are owned by pid or by no process at all. */
export async function leftoverPrograms(pid: number, before: Set<number>): Promise<string[]> {
  for (let i = 0; ; i++) {
    const left = (await progs()).filter((p) => !before.has(p.id) && (!p.pids?.length || p.pids.some((o) => o.pid === pid)));
    if (left.length === 0 || i >= 40) return left.map((p) => `${p.name} (id ${p.id})`);
    await new Promise((r) => setTimeout(r, 50)); // the kernel frees programs asynchronously
  }
}
