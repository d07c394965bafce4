// timing.ts - deadlines that encode this machine's speed. The kernel
// matrix's guests run under qemu's software emulation (TCG), several times
// slower; vm/guest.sh sets MB_TEST_TIME_FACTOR there, so "ends promptly"
// means the same in both places. Only deadlines and tolerances for code's own
// running time scale, never measured ratios.
import * as fs from 'node:fs';
const factor = Number(process.env.MB_TEST_TIME_FACTOR ?? '1');
if (!(factor >= 1)) throw new Error(`MB_TEST_TIME_FACTOR must be a number >= 1, got ${JSON.stringify(process.env.MB_TEST_TIME_FACTOR)}`);

/** A deadline of ms on the reference machine, on this one. */
export function deadlineMs(ms: number): number {
  return ms * factor;
}

/** A tolerance for code's own running time (ns), as it is on this machine. */
export function runTimeToleranceNs(ns: number): number {
  return ns * factor;
}

// Busy and total jiffies of all CPUs (/proc/stat's first line).
function cpuTimes(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + f[4]; // idle + iowait
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits (up to maxMs) until the machine is idle for a quarter second: at
 * most 10% of its CPUs busy. For tests that need every CPU for a moment,
 * after earlier files' teardown (the kernel frees deleted namespaces in
 * the background). Returns the busy share last seen.
 */
export async function quiesce(maxMs = 5000): Promise<number> {
  const end = Date.now() + maxMs;
  let share = 1;
  while (Date.now() < end) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 250));
    const b = cpuTimes();
    share = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (share <= 0.1) break;
  }
  return share;
}
