// containers.ts - the container list: traced or not (a toggle that traces
// or untraces through the daemon), label, netns, packets/s, bytes/s,
// coverage, lost records and limit. Rows are kept by netns and their cells
// updated in place, so a click is never lost to a rebuilt row, and a toggle
// shows what was asked until the daemon answers (a render from an older
// view would otherwise flip it back under the pointer).
import type { ContainerSummary, ContainerView } from '../../../src/core/protocol';
import { bitRate, bytesPerSecond, count, el, percent, perSecond } from './format';

export interface ContainerListEvents {
  select(label: string): void;
  /** settles once the daemon has answered (its containers update comes first) */
  toggle(view: ContainerView, on: boolean): Promise<unknown>;
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

  constructor(
    private readonly tbody: HTMLTableSectionElement,
    private readonly empty: HTMLElement,
    private readonly on: ContainerListEvents,
  ) {}

  render(views: ContainerView[], summaries: Map<number, ContainerSummary>, selected: string | undefined, canChange: boolean): void {
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
    this.empty.textContent = views.length === 0 ? 'The daemon traces no container yet. Start one with `macebpf demo`, or trace one: POST /api/containers/{spec}/trace.' : views.every((v) => !v.traced) ? 'No container is traced: turn tracing on in the first column.' : '';
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
