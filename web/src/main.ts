// main.ts - the dashboard (DESIGN §6): one connection to the daemon, the
// model it feeds, and the views drawn from it in one requestAnimationFrame
// loop, each chart's setData called at most once per frame. The token
// comes from the URL fragment (#token=…), which browsers never send to a
// server; without it the page is read-only.
import { decodeFrame } from '../../src/core/frame';
import type { Candidate, ServerMessage } from '../../src/core/protocol';
import { startCandidatePoll } from './candidates';
import { DistributionChart } from './charts/distribution';
import { LatencyChart } from './charts/latency';
import { QuantileChart } from './charts/quantiles';
import { RatesChart } from './charts/rates';
import { theme } from './charts/theme';
import { Connection, type LinkState } from './connection';
import { Model } from './model';
import { Perf } from './perf';
import { startStatisticsPoll } from './statistics';
import { bannerFor, type Problem } from './views/banner';
import { ContainerList } from './views/containers';
import { renderCounters } from './views/counters';
import { LimitPanel } from './views/limit-panel';
import { windowStats, type Part } from './window-stats';

const SLIDE_MS = 200; // the x axis moves on at least this often without new records
const STATS_MS = 500; // quantile bands and distribution are recomputed this often

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const token = new URLSearchParams(location.hash.slice(1)).get('token') ?? undefined;
const model = new Model();
const perf = new Perf();
let link: LinkState = { kind: 'connecting', attempt: 0 };
let problem: Problem | undefined; // last failed action or auth
let selected: string | undefined;
let part: Part = 'total';
let authenticated = false;
const drops = new Map<number, Record<string, number>>();

const conn = new Connection(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`, token, {
  state: (s) => {
    link = s;
    if (s.kind === 'open') authenticated = s.authenticated;
    if (s.kind === 'open' && problem?.kind === 'gone') problem = undefined;
    model.metaVersion++;
  },
  message: onMessage,
  frame: (f) => model.onFrame(f),
});

function onMessage(m: ServerMessage): void {
  if (m.type === 'hello') {
    model.onHello(m);
    for (const w of model.windows.values()) w.clear(); // records from before the gap are not re-sent
  } else if (m.type === 'summary') model.onSummary(m);
  else if (m.type === 'containers') model.setContainers(m.containers);
  else if (m.type === 'error' && m.field === 'token') problem = { kind: 'token', message: m.message };
  if (m.type === 'hello' || m.type === 'containers') {
    if (!selected || !model.byLabel(selected)) selected = (model.containers.find((c) => c.traced) ?? model.containers[0])?.label;
  }
}

// ----- actions (through the WebSocket, authenticated by the token) -------

async function act(what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
    if (problem?.kind === 'action') problem = undefined;
  } catch (e) {
    problem = { kind: 'action', message: `${what} failed: ${(e as Error).message}` };
    throw e;
  } finally {
    model.metaVersion++;
  }
}

let candidates: Candidate[] = [];
const list = new ContainerList($<HTMLTableSectionElement>('containers').querySelector('tbody')!, $<HTMLTableSectionElement>('candidates'), $('containers-empty'), {
  select: (label) => {
    selected = label;
    model.version++;
    model.metaVersion++;
  },
  toggle: (view, on) =>
    act(`${on ? 'tracing' : 'untracing'} ${view.label}`, () => (on ? conn.request({ type: 'trace', spec: view.spec, label: view.label }) : conn.request({ type: 'untrace', container: view.label }))).catch(() => undefined),
  traceCandidate: (spec) =>
    act(`tracing ${spec}`, () => conn.request({ type: 'trace', spec }))
      .catch(() => undefined)
      .finally(refreshCandidates),
});
const refreshCandidates = startCandidatePoll((c) => {
  candidates = c;
  model.metaVersion++;
});

const limitPanel = new LimitPanel({
  set: (label, body) => act(`limiting ${label}`, () => conn.request({ type: 'limit', container: label, ...body })),
  remove: (label) => act(`removing the limit of ${label}`, () => conn.request({ type: 'unlimit', container: label })),
});

$<HTMLSelectElement>('window').addEventListener('change', (ev) => {
  model.windowS = Number((ev.target as HTMLSelectElement).value);
  model.version++;
});
$<HTMLSelectElement>('part').addEventListener('change', (ev) => {
  part = (ev.target as HTMLSelectElement).value as Part;
  lastStats = 0;
});

// ----- charts, rebuilt when light/dark changes -----------------------------

interface Charts {
  latency: LatencyChart;
  quantiles: QuantileChart;
  distribution: DistributionChart;
  rates: RatesChart;
}
let charts: Charts;
function buildCharts(): void {
  const t = theme();
  charts = {
    latency: new LatencyChart($('chart-latency'), t),
    quantiles: new QuantileChart($('chart-quantiles'), t),
    distribution: new DistributionChart($('chart-distribution'), t),
    rates: new RatesChart($('chart-rates'), t),
  };
  drawnVersion = -1;
  lastStats = 0;
  drawnMeta = -1;
}
matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
  for (const c of Object.values(charts)) c.destroy();
  buildCharts();
});

// ----- the frame loop ---------------------------------------------------

let drawnVersion = -1;
let drawnMeta = -1;
let lastDraw = 0;
let lastStats = 0;

function frame(now: number): void {
  requestAnimationFrame(frame);
  const t0 = performance.now();
  const view = selected ? model.byLabel(selected) : undefined;
  const netns = view?.netns;
  const xMax = model.nowS();
  const xMin = xMax - model.windowS;
  let drew = false;
  const w = netns === undefined ? undefined : model.windows.get(netns);
  if (now - lastStats > STATS_MS) {
    // the bands and distribution take a pass over every row: a frame of their
    // own, so the scatter's frame and theirs never add up
    model.slide();
    const views = w ? w.views() : emptyViews;
    const st = windowStats(views, part, xMin, xMax);
    charts.quantiles.update(st.q, xMin, xMax);
    charts.distribution.update(st.d);
    charts.rates.update(netns === undefined ? undefined : model.history.get(netns), xMin, xMax);
    lastStats = now;
    drew = true;
  } else if (model.version !== drawnVersion || now - lastDraw > SLIDE_MS) {
    model.slide();
    const views = w ? w.views() : emptyViews;
    charts.latency.update(views, xMin, xMax);
    const card = $('chart-latency');
    card.dataset.points = String(views[0].length);
    card.dataset.last = views[0].length ? String(Math.round(views[0][views[0].length - 1] * 1000)) : '';
    $('points').textContent = view ? `${views[0].length.toLocaleString('en')} records in the last ${model.windowS} s` : '';
    drawnVersion = model.version;
    lastDraw = now;
    drew = true;
  }
  if (model.metaVersion !== drawnMeta) {
    renderMeta(view, netns);
    drawnMeta = model.metaVersion;
    drew = true;
  }
  // uPlot commits a setData in a microtask: measure after it
  if (drew) queueMicrotask(() => perf.add(performance.now() - t0));
}
const emptyViews = Array.from({ length: 7 }, () => new Float64Array(0));

function renderMeta(view: ReturnType<Model['byLabel']>, netns: number | undefined): void {
  const pill = $('conn');
  pill.dataset.state = link.kind;
  pill.textContent =
    link.kind === 'open' ? `live${authenticated ? '' : ' (read-only)'}` : link.kind === 'connecting' ? 'connecting…' : `disconnected: retrying in ${Math.max(0, Math.ceil((link.retryAtMs - Date.now()) / 1000))} s`;
  const canChange = link.kind === 'open' && authenticated;
  list.render(model.containers, model.summaries, selected, canChange, candidates);
  const b = bannerFor({ link, token: token !== undefined, authenticated, problem, containers: model.containers });
  const banner = $('banner');
  banner.textContent = b?.text ?? '';
  banner.dataset.level = b?.level ?? '';
  banner.dataset.kind = b?.kind ?? '';
  $('selected').textContent = view ? `${view.label}${view.traced ? '' : ' (not traced)'}` : 'No container selected';
  const csv = $<HTMLAnchorElement>('csv');
  if (view) {
    csv.href = `/api/latencies.csv?container=${encodeURIComponent(view.label)}&follow=0`;
    csv.download = `${view.label}-latencies.csv`;
    csv.removeAttribute('aria-disabled');
  } else {
    csv.removeAttribute('href');
    csv.setAttribute('aria-disabled', 'true');
  }
  const summary = netns === undefined ? undefined : model.summaries.get(netns);
  const live = view?.traced ? summary : undefined;
  $('detail-empty').textContent = !view
    ? 'Select a container in the list above.'
    : !view.traced
      ? `${view.label} is not traced: no new records. Turn tracing on in the list to see its latency.`
      : (model.windows.get(view.netns)?.length ?? 0) === 0
        ? `Waiting for ${view.label}'s first records… (a container that sends nothing has none)`
        : '';
  const w = netns === undefined ? undefined : model.windows.get(netns);
  renderCounters($('counters').querySelector('.body')!, live, model.summary, netns === undefined ? undefined : drops.get(netns), { recordsInView: w?.length ?? 0, capped: w?.capped ?? 0 });
  const kernelMode = model.hello?.features.includes('limits:fq') ? 'fq' : model.hello?.features.includes('limits:police') ? 'police' : undefined;
  limitPanel.render(view, live, kernelMode, canChange);
}

// once a second the pill's countdown and the summaries' figures change anyway
setInterval(() => model.metaVersion++, 1000);

startStatisticsPoll((byNetns) => {
  drops.clear();
  for (const [k, v] of byNetns) drops.set(k, v);
  model.metaVersion++;
});

buildCharts();
conn.start();
requestAnimationFrame(frame);

// For bench/dashboard.ts: frame times, and records fed through the same
// decoder and model as the WebSocket's.
(window as unknown as { macebpf: unknown }).macebpf = {
  model,
  perf,
  ingest: (buf: ArrayBuffer) => model.onFrame(decodeFrame(buf)),
  select: (label: string) => {
    selected = label;
    model.version++;
    model.metaVersion++;
  },
};
