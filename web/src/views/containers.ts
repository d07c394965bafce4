// containers.ts - the container list: traced or not (a toggle that traces
// or untraces through the daemon), label, netns, packets/s, bytes/s,
// coverage, lost records and limit; below them the namespaces the daemon
// could trace (candidates), each with a toggle that starts tracing it. Rows
// are kept by netns (candidates by spec) and their cells updated in place,
// so a click is never lost to a rebuilt row, and a toggle shows what was
// asked until the daemon answers (a render from an older view would
// otherwise flip it back under the pointer).
import type { Candidate, ContainerSummary, ContainerView } from '../../../src/core/protocol';
import { bitRate, bytesPerSecond, count, el, percent, perSecond } from './format';

export interface ContainerListEvents {
  select(label: string): void;
  /** settles once the daemon has answered (its containers update comes first) */
  toggle(view: ContainerView, on: boolean): Promise<unknown>;
  /** settles once the daemon has answered */
  traceCandidate(spec: string): Promise<unknown>;
}

interface Row {
  tr: HTMLTableRowElement;
  toggle: HTMLInputElement;
  cells: HTMLTableCellElement[];
}

export class ContainerList {
  private readonly rows = new Map<number, Row>();
  /** latest view per netns, for the toggle's handler */
  private readonly views = new Map<number, ContainerView>();
  /** the state asked for per netns, while the daemon's answer is awaited */
  private readonly pending = new Map<number, boolean>();
  private readonly candidateRows = new Map<string, HTMLTableRowElement>();
  /** candidates asked to be traced, until the daemon has answered */
  private readonly asked = new Set<string>();

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly candidateBody: HTMLTableSectionElement,
    private readonly empty: HTMLElement,
    private readonly on: ContainerListEvents,
  ) {}

  render(views: ContainerView[], summaries: Map<number, ContainerSummary>, selected: string | undefined, canChange: boolean, candidates: Candidate[]): void {
    const seen = new Set<number>();
    for (const v of views) {
      seen.add(v.netns);
      this.views.set(v.netns, v);
      const row = this.rows.get(v.netns) ?? this.add(v);
      const s = v.traced ? summaries.get(v.netns) : undefined;
      const e = s?.directions.egress;
      const i = s?.directions.ingress;
      row.tr.dataset.container = v.label;
      row.tr.dataset.traced = String(v.traced);
      row.tr.setAttribute('aria-selected', String(v.label === selected));
      row.toggle.checked = this.pending.get(v.netns) ?? v.traced;
      row.toggle.disabled = !canChange;
      row.toggle.title = canChange ? (v.traced ? 'stop tracing this container' : 'trace this container') : 'needs the token: open the URL macebpf printed';
      const texts = [
        v.label,
        String(v.netns),
        `${perSecond(e?.pps)} / ${perSecond(i?.pps)}`,
        `${bytesPerSecond(e?.bps)} / ${bytesPerSecond(i?.bps)}`,
        `${percent(e?.coverage)} / ${percent(i?.coverage)}`,
        count(e && i ? e.lost + i.lost : undefined),
        v.limit ? `${bitRate(v.limit.rate_bytes_per_sec)} (${v.limit.mode === 'fq' ? 'pacing' : 'policing'})` : 'none',
      ];
      texts.forEach((t, k) => (row.cells[k].textContent = t));
      row.cells[3].dataset.value = String(e?.bps ?? '');
    }
    for (const [netns, row] of this.rows) {
      if (!seen.has(netns)) {
        row.tr.remove();
        this.rows.delete(netns);
      }
    }
    const known = new Set(views.map((v) => v.spec));
    const untraced = candidates.filter((c) => !known.has(c.spec));
    this.renderCandidates(untraced, canChange);
    this.empty.textContent =
      views.length === 0 && untraced.length === 0
        ? 'The daemon traces no container yet, and sees no network namespace to trace. Start one with `macebpf demo`, or trace one: POST /api/containers/{spec}/trace.'
        : views.every((v) => !v.traced)
          ? 'No container is traced: turn tracing on in the first column.'
          : '';
  }

  private renderCandidates(candidates: Candidate[], canChange: boolean): void {
    const seen = new Set<string>();
    for (const c of candidates) {
      seen.add(c.spec);
      let tr = this.candidateRows.get(c.spec);
      if (!tr) {
        tr = this.addCandidate(c);
        this.candidateRows.set(c.spec, tr);
      }
      const toggle = tr.querySelector('input')!;
      toggle.checked = this.asked.has(c.spec);
      toggle.disabled = !canChange || this.asked.has(c.spec);
      toggle.title = canChange ? 'trace this namespace' : 'needs the token: open the URL macebpf printed';
    }
    for (const [spec, tr] of this.candidateRows) {
      if (!seen.has(spec)) {
        tr.remove();
        this.candidateRows.delete(spec);
      }
    }
  }

  private addCandidate(c: Candidate): HTMLTableRowElement {
    const toggle = el('input', { type: 'checkbox', 'data-testid': 'candidate-toggle', 'aria-label': `trace ${c.spec}` });
    toggle.addEventListener('change', () => {
      if (!toggle.checked) return;
      this.asked.add(c.spec);
      toggle.disabled = true;
      void this.on.traceCandidate(c.spec).finally(() => this.asked.delete(c.spec));
    });
    const tr = el('tr', { class: 'candidate' }, el('td', {}, toggle), el('td', {}, c.spec), el('td', { colspan: '6', class: 'note' }, `${c.source}: not traced`));
    tr.dataset.candidate = c.spec;
    this.candidateBody.append(tr);
    return tr;
  }

  private add(v: ContainerView): Row {
    const toggle = el('input', { type: 'checkbox', 'data-testid': 'trace-toggle', 'aria-label': `trace ${v.label}` });
    toggle.addEventListener('click', (ev) => ev.stopPropagation());
    toggle.addEventListener('change', () => {
      const view = this.currentView(v.netns);
      if (!view) return;
      const on = toggle.checked;
      this.pending.set(v.netns, on);
      void this.on.toggle(view, on).finally(() => {
        if (this.pending.get(v.netns) === on) this.pending.delete(v.netns);
      });
    });
    const cells = Array.from({ length: 7 }, (_, k) => el('td', k >= 2 && k <= 5 ? { class: 'num' } : {}));
    cells[3].dataset.testid = 'bps';
    const tr = el('tr', {}, el('td', {}, toggle), ...cells);
    tr.addEventListener('click', () => this.on.select(tr.dataset.container!));
    this.tbody.append(tr);
    const row = { tr, toggle, cells };
    this.rows.set(v.netns, row);
    return row;
  }

  private currentView(netns: number): ContainerView | undefined {
    return this.views.get(netns);
  }
}
