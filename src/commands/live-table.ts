// live-table.ts - the per-container table `macebpf trace` shows: records,
// quantiles of the total latency and its parts, coverage and lost records.
import { coverage, type ContainerCounters } from '../core/counters';
import { DIRECTIONS } from '../core/records';
import type { TraceSession } from '../core/session';
import { formatNs } from '../core/units';

const HEADER = ['container', 'dir', 'records', 'p50', 'p99', 'stack p50', 'virt p50', 'coverage', 'unmatched', 'stale', 'lost'];

function median(values: Float64Array): number {
  const seen = values.filter((v) => !Number.isNaN(v)).sort();
  return seen.length ? seen[Math.floor(seen.length / 2)] : NaN;
}

const fmt = (ns: number): string => (Number.isNaN(ns) ? '-' : formatNs(ns));
const pct = (x: number): string => (Number.isNaN(x) ? '-' : `${(x * 100).toFixed(1)}%`);

export function tableRows(session: TraceSession): string[][] {
  const rows: string[][] = [];
  for (const c of session.containers) {
    const counters: ContainerCounters = session.counters(c.index);
    for (const dir of DIRECTIONS) {
      const h = c.totals[dir];
      const recent = c.rings[dir].snapshot(); // parts: medians over the ring
      const k = counters[dir];
      rows.push([
        c.label,
        dir,
        String(h.count),
        fmt(h.quantile(0.5)),
        fmt(h.quantile(0.99)),
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
