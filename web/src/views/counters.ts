// counters.ts - the selected container's counters: coverage (records per
// packet), unmatched, stale and lost records per direction, the kernel's
// drops by reason (from /monitor/statistics.json), the BPF programs' own
// cost per packet, and what this page dropped or holds.
import type { ContainerSummary, Summary } from '../../../src/core/protocol';
import { formatNs } from '../../../src/core/units';
import { count, dl, el, percent } from './format';

export interface PageCounters {
  recordsInView: number;
  capped: number;
}

export function renderCounters(box: HTMLElement, s: ContainerSummary | undefined, summary: Summary | undefined, drops: Record<string, number> | undefined, page: PageCounters): void {
  if (!s) {
    box.replaceChildren(el('p', { class: 'note' }, 'No counters: the container is not traced.'));
    return;
  }
  const e = s.directions.egress;
  const i = s.directions.ingress;
  const both = (f: (d: typeof e) => string): string => `${f(e)} / ${f(i)}`;
  const dropRows = Object.entries(drops ?? {})
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1]);
  const bpf = summary?.bpfNsPerPacket;
  box.replaceChildren(
    dl([
      ['', 'egress / ingress'],
      ['coverage', both((d) => percent(d.coverage)), 'coverage'],
      ['unmatched', both((d) => count(d.unmatched))],
      ['stale', both((d) => count(d.stale))],
      ['lost', both((d) => count(d.lost)), 'lost'],
      ['BPF cost per packet', bpf == null ? 'not known (needs kernel.bpf_stats_enabled)' : `${formatNs(bpf)} of BPF run time`, 'bpf-ns'],
      ['kernel drops', drops === undefined ? 'loading…' : dropRows.length ? dropRows.map(([r, n]) => `${r}: ${count(n)}`).join(', ') : 'none', 'drops'],
      ['frames this page missed', summary ? `${count(summary.dropped.frames)} (${count(summary.dropped.records)} records)` : '–'],
      ['records in view', `${count(page.recordsInView)}${page.capped ? ` (oldest ${count(page.capped)} dropped: point budget)` : ''}`],
    ]),
  );
}
