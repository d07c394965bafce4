// timing.ts - deadlines that encode this machine's speed. The kernel
// matrix's guests run under qemu's software emulation (TCG), several times
// slower; vm/guest.sh sets MB_TEST_TIME_FACTOR there, so "ends promptly"
// means the same in both places. Only deadlines and tolerances for code's own
// running time scale, never measured ratios.
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
