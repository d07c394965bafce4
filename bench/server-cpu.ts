// server-cpu.ts - how this kernel accounts a task's CPU time, for reading
// the server-cost benchmark's process.cpuUsage figures: without
// CONFIG_IRQ_TIME_ACCOUNTING, softirq work (the floods' packet processing
// and the BPF programs run in it) that happens while a daemon thread is on
// the CPU is charged to the daemon.
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

export interface CpuAccounting {
  /** CONFIG_IRQ_TIME_ACCOUNTING: irq/softirq time kept out of task times */
  irqTime: boolean;
}

/** How this kernel accounts task CPU time (from /proc/config.gz), or null when it does not say. */
export function cpuAccounting(): CpuAccounting | null {
  let config: string;
  try {
    config = zlib.gunzipSync(fs.readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    return null;
  }
  return { irqTime: /^CONFIG_IRQ_TIME_ACCOUNTING=y$/m.test(config) };
}
