// live-table.ts - the per-container table `trace`, `demo` and `serve` show on
// a TTY: records delivered and kernel events, quantiles of the total latency
// and medians of its parts, coverage, unmatched, stale and lost records.
import { coverage } from '../core/counters';
import { DIRECTIONS } from '../core/records';
import { formatNs } from '../core/units';
import type { Tracing } from '../host/tracing';

const HEADER = ['container', 'dir', 'records', 'events', 'p50', 'p99', 'stack p50', 'virt p50', 'coverage', 'unmatched', 'stale', 'lost'];

function median(values: Float64Array): number {
  const seen = values.filter((v) => !Number.isNaN(v)).sort();
  return seen.length ? seen[Math.floor(seen.length / 2)] : NaN;
}

const fmt = (ns: number): string => (Number.isNaN(ns) ? '-' : formatNs(ns));
const pct = (x: number): string => (Number.isNaN(x) ? '-' : `${(x * 100).toFixed(1)}%`);

/** records: delivered to this process; events: emitted by the kernel (they differ only while records are in flight, or by lost ones). */
export function tableRows(tracing: Tracing): string[][] {
  const rows: string[][] = [];
  for (const c of tracing.store.traced) {
    const counters = tracing.tracer.counters(c.index);
    for (const dir of DIRECTIONS) {
      const s = c.series[dir];
      const recent = s.ring.snapshot(); // parts: medians over the ring
      const k = counters[dir];
      rows.push([
        c.label,
        dir,
        String(s.run.count),
        String(k.events),
        fmt(s.run.quantile(0.5)),
        fmt(s.run.quantile(0.99)),
        fmt(median(recent.stack)),
        fmt(median(recent.virt)),
        pct(coverage(k)),
        String(k.unmatched),
        String(k.stale),
        String(k.lost),
      ]);
    }
  }
  return rows;
}

export function renderTable(rows: string[][]): string {
  const all = [HEADER, ...rows];
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n') + '\n';
}

const REDRAW_MS = 1000;

/** Redraws the table once a second while out is a TTY (undefined: nowhere,
 * as when CSV rows go to the same terminal); returns what stops it. */
export function liveTable(tracing: Tracing, out: NodeJS.WriteStream | undefined): () => void {
  if (out?.isTTY !== true) return () => undefined;
  const timer = setInterval(() => out.write('\x1b[H\x1b[J' + renderTable(tableRows(tracing))), REDRAW_MS);
  return () => clearInterval(timer);
}

/** The table once more, after the run, clearing the screen where liveTable drew on it. */
export function finalTable(rows: string[][], live: NodeJS.WriteStream | undefined): string {
  return (live?.isTTY === true ? '\x1b[H\x1b[J' : '') + renderTable(rows);
}
