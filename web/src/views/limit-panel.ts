// limit-panel.ts - a container's egress rate limit: set, change or remove it
// (Mesos or tc units, checked with the daemon's own schema before sending,
// the daemon's error shown inline otherwise), the achieved rate against the
// limit, delayed packets, drops, and the mode stated plainly.
import { LimitBody, describeIssues } from '../../../src/core/protocol';
import type { ContainerSummary, ContainerView } from '../../../src/core/protocol';
import { formatNs } from '../../../src/core/units';
import { bitRate, count, dl, el } from './format';

export interface LimitActions {
  set(label: string, body: LimitBody): Promise<void>;
  remove(label: string): Promise<void>;
}

const MODE_TEXT = {
  fq: 'Pacing with fq: packets over the rate wait (up to the horizon), so the container sees added delay, not loss.',
  police: 'Policing: this kernel has no sch_fq, so packets over the rate are dropped rather than delayed; TCP backs off and usually gets somewhat less than the limit.',
} as const;

export class LimitPanel {
  private readonly form = document.getElementById('limit-form') as HTMLFormElement;
  private readonly rate = document.getElementById('limit-rate') as HTMLInputElement;
  private readonly horizon = document.getElementById('limit-horizon') as HTMLInputElement;
  private readonly removeBtn = document.getElementById('limit-remove') as HTMLButtonElement;
  private readonly setBtn = this.form.querySelector('button[type=submit]') as HTMLButtonElement;
  private readonly error = document.getElementById('limit-error') as HTMLElement;
  private readonly state = document.getElementById('limit-state') as HTMLElement;
  private readonly mode = document.getElementById('limit-mode') as HTMLElement;
  private label: string | undefined;

  constructor(private readonly actions: LimitActions) {
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.submit();
    });
    this.removeBtn.addEventListener('click', () => void this.run(() => this.actions.remove(this.label!)));
  }

  render(view: ContainerView | undefined, summary: ContainerSummary | undefined, kernelMode: 'fq' | 'police' | undefined, canChange: boolean): void {
    if (view?.label !== this.label) {
      this.label = view?.label;
      this.error.textContent = '';
    }
    const limit = view?.limit ?? null;
    const mode = limit?.mode ?? kernelMode;
    this.mode.textContent = mode ? MODE_TEXT[mode] : '';
    this.setBtn.disabled = !view || !canChange || !view.traced;
    this.removeBtn.disabled = !view || !canChange || !limit;
    this.rate.disabled = this.horizon.disabled = !view || !canChange;
    this.state.replaceChildren();
    if (!view) return;
    if (!limit) {
      this.state.append(el('p', { class: 'note', 'data-testid': 'limit-none' }, `${view.label} has no limit.`));
      return;
    }
    const s = summary?.limit;
    const achieved = s?.achieved_bytes_per_sec ?? null;
    // the share can pass 100 % for a sample (policing lets a horizon's burst through); only the bar is capped
    const share = achieved === null ? 0 : achieved / limit.rate_bytes_per_sec;
    const meter = el('div', { class: 'meter', title: 'achieved / limit' }, el('div', { style: `width:${(Math.min(1, share) * 100).toFixed(1)}%` }));
    const achievedRow = dl([
      ['limit', `${bitRate(limit.rate_bytes_per_sec)} on ${limit.dev}, horizon ${formatNs(limit.horizon_ns)}`, 'limit-rate-now'],
      ['achieved', achieved === null ? 'measuring…' : `${bitRate(achieved)} (${(share * 100).toFixed(0)} % of the limit)`, 'achieved'],
      ['delayed packets', count(s?.delayed_packets)],
      ['drops', count(s?.drops)],
      ['backlog', s ? `${count(s.backlog_bytes)} B` : '–'],
    ]);
    const fig = achievedRow.querySelector('[data-testid=achieved]') as HTMLElement;
    fig.dataset.bps = achieved === null ? '' : String(achieved);
    this.state.append(achievedRow, meter);
  }

  private async submit(): Promise<void> {
    if (!this.label) return;
    const body: Record<string, string> = { rate: this.rate.value.trim() };
    if (this.horizon.value.trim()) body.horizon = this.horizon.value.trim();
    const parsed = LimitBody.safeParse(body);
    if (!parsed.success) {
      this.error.textContent = describeIssues(parsed.error);
      return;
    }
    await this.run(() => this.actions.set(this.label!, parsed.data));
  }

  private async run(action: () => Promise<void>): Promise<void> {
    this.error.textContent = '';
    try {
      await action();
    } catch (e) {
      this.error.textContent = (e as Error).message;
    }
  }
}
