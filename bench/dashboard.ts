// dashboard.ts - frame time of the dashboard with 10,000 and 100,000 points
// in view (issue 7), in the same headless Chromium the browser tests use,
// on the page a real `macebpf demo` serves.
//
//   flock /tmp/macebpf-kernel.lock npm run bench:dashboard
//
// The demo's own traffic is far below 100,000 records a minute, so the
// points are synthetic records, encoded with core's encodeFrame and fed to
// the page's own ingest path (core's decodeFrame, the model, the charts)
// exactly as WebSocket frames are: first a window's worth, then one frame
// every 100 ms at the rate that keeps the count steady. Reported per size:
// the dashboard's work per drawn frame (median, p99 ms; uPlot's commit
// included) and the interval between animation frames (median, p99 ms; 16.7
// is 60 Hz). Results: bench/results/dashboard.json.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encodeFrame } from '../src/core/frame';
import type { RecordColumns } from '../src/core/records';
import { launch } from '../test/browser/browser';
import { startDemo } from '../test/browser/demo';

export interface DashboardResult {
  date: string;
  browser: string;
  windowS: number;
  tickMs: number;
  results: Result[];
}

const RESULTS = path.resolve(__dirname, '..', '..', 'bench', 'results', 'dashboard.json');
const SIZES = [10_000, 100_000];
const WINDOW_S = 60;
const MEASURE_S = 8;
const TICK_MS = 100;

/** Records spread evenly over [fromMs, toMs), latencies log-normal around 20 µs. */
function records(n: number, netns: number, baseNs: bigint, fromMs: number, toMs: number): ArrayBuffer {
  const col = (): Float64Array => new Float64Array(n);
  const cols: RecordColumns = {
    length: n,
    tsNs: col(),
    netns: new Uint32Array(n).fill(netns),
    totalNs: col(),
    stackNs: col(),
    virtNs: col(),
    packetId: new Uint32Array(n),
    container: new Uint16Array(n),
    dir: new Uint8Array(n),
    proto: new Uint8Array(n).fill(17),
    family: new Uint8Array(n),
    stages: new Uint8Array(n),
  };
  const t = new Float64Array(n);
  const baseMs = Number(baseNs / 1_000_000n);
  for (let i = 0; i < n; i++) {
    t[i] = (fromMs + ((toMs - fromMs) * i) / n - baseMs) * 1e6;
    const total = 20_000 * Math.exp(0.8 * gauss());
    cols.totalNs[i] = Math.round(total);
    cols.stackNs[i] = Math.round(total * 0.3);
    cols.virtNs[i] = Math.round(total * 0.7);
    cols.dir[i] = i & 1;
    cols.packetId[i] = i;
  }
  return encodeFrame(cols, t, baseNs);
}

function gauss(): number {
  return Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
}

const b64 = (buf: ArrayBuffer): string => Buffer.from(buf).toString('base64');

/** What the page's globals look like from here (this file compiles without the DOM lib). */
interface PageGlobals {
  macebpf: {
    ingest(b: ArrayBuffer): void;
    perf: { reset(): void; summary(): { frames: number; medianMs: number; p99Ms: number } };
    model: { byLabel(l: string): { netns: number }; hello: { baseNs: string }; windows: Map<number, { clear(): void }> };
  };
  requestAnimationFrame(cb: (now: number) => void): number;
  document: { querySelector(s: string): { getAttribute(a: string): string | null } | null };
}

export interface Result {
  points: number;
  pointsInView: number;
  frames: number;
  workMedianMs: number;
  workP99Ms: number;
  intervalMedianMs: number;
  intervalP99Ms: number;
}

async function main(): Promise<void> {
  const demo = await startDemo();
  const browser = await launch();
  const results: Result[] = [];
  try {
    const page = await browser.context.newPage();
    await page.goto(demo.url);
    await page.waitForSelector('[data-testid=conn][data-state=open]');
    const label = demo.containers[0];
    await page.click(`tr[data-container="${label}"]`);
    const { netns, baseNs } = await page.evaluate((l) => {
      const m = (globalThis as unknown as PageGlobals).macebpf.model;
      return { netns: m.byLabel(l).netns, baseNs: m.hello.baseNs };
    }, label);
    for (const n of SIZES) {
      const start = Date.now() + 2000;
      const fill = b64(records(n, netns, BigInt(baseNs), start - WINDOW_S * 1000, start));
      const perTick = Math.round((n / WINDOW_S) * (TICK_MS / 1000));
      const ticks = Array.from({ length: (MEASURE_S * 1000) / TICK_MS + 10 }, (_, k) => b64(records(perTick, netns, BigInt(baseNs), start + k * TICK_MS, start + (k + 1) * TICK_MS)));
      const r = await page.evaluate(
        async ({ fill, ticks, start, tickMs, measureMs }) => {
          const g = globalThis as unknown as PageGlobals;
          const hook = g.macebpf;
          const buf = (s: string): ArrayBuffer => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)).buffer;
          for (const w of hook.model.windows.values()) w.clear();
          hook.ingest(buf(fill));
          await new Promise((r) => setTimeout(r, Math.max(0, start - Date.now())));
          ticks.forEach((t, k) => setTimeout(() => hook.ingest(buf(t)), k * tickMs));
          await new Promise((r) => setTimeout(r, 1000)); // settle
          hook.perf.reset();
          const intervals: number[] = [];
          let last = performance.now();
          let on = true;
          const loop = (now: number): void => {
            intervals.push(now - last);
            last = now;
            if (on) g.requestAnimationFrame(loop);
          };
          g.requestAnimationFrame(loop);
          await new Promise((r) => setTimeout(r, measureMs));
          on = false;
          const work = hook.perf.summary();
          intervals.sort((a, b) => a - b);
          const q = (p: number): number => intervals[Math.min(intervals.length - 1, Math.floor(p * intervals.length))];
          const inView = Number(g.document.querySelector('[data-testid=chart-latency]')?.getAttribute('data-points'));
          return { frames: work.frames, workMedianMs: work.medianMs, workP99Ms: work.p99Ms, intervalMedianMs: q(0.5), intervalP99Ms: q(0.99), inView };
        },
        { fill, ticks, start, tickMs: TICK_MS, measureMs: MEASURE_S * 1000 - 2000 },
      );
      const res: Result = { points: n, pointsInView: r.inView, frames: r.frames, workMedianMs: r.workMedianMs, workP99Ms: r.workP99Ms, intervalMedianMs: r.intervalMedianMs, intervalP99Ms: r.intervalP99Ms };
      results.push(res);
      process.stdout.write(
        `dashboard, ${n.toLocaleString('en')} points (${r.inView.toLocaleString('en')} in view): work per frame median ${r.workMedianMs.toFixed(2)} ms, p99 ${r.workP99Ms.toFixed(2)} ms over ${r.frames} frames; frame interval median ${r.intervalMedianMs.toFixed(1)} ms, p99 ${r.intervalP99Ms.toFixed(1)} ms\n`,
      );
    }
  } finally {
    await browser.close();
    await demo.stop();
  }
  const chromium = fs.existsSync('/usr/bin/chromium') ? 'Debian chromium (headless, --disable-gpu)' : 'unknown';
  fs.mkdirSync(path.dirname(RESULTS), { recursive: true });
  // The shape every section of `npm run bench` writes ({ result }), so run.ts
  // finds it as this section's previous result.
  const result: DashboardResult = { date: new Date().toISOString(), browser: chromium, windowS: WINDOW_S, tickMs: TICK_MS, results };
  fs.writeFileSync(RESULTS, JSON.stringify({ result }, null, 2) + '\n');
  process.stdout.write(`written ${path.relative(process.cwd(), RESULTS)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench dashboard: ${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
