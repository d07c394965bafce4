// The dashboard in a real headless Chromium against a real `macebpf demo`
// (issue 7): points arrive, tracing toggles stop and resume them (and show
// what was asked until the daemon answers), a limit moves the achieved rate
// and its removal lifts it, the CSV is the selected container's, a bad rate
// is explained inline, and a daemon that goes away shows as disconnected and
// is reconnected to when it is back; a namespace not traced yet is listed and
// traced from its toggle. Screenshots (light and dark) go to
// artifacts/browser/.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { assertBuilt } from '../support/cli';
import { skipUnlessRoot } from '../support/root';
import { ARTIFACTS, launch, type Browser } from './browser';
import { startDemo, type Demo } from './demo';

const CSV_HEADER = 'timestamp_ns,container,netns,direction,protocol,latency_ns,stack_ns,virt_ns,packet_id';

async function num(page: Page, selector: string, attr: string): Promise<number> {
  const v = await page.getAttribute(selector, attr);
  return v === null || v === '' ? NaN : Number(v);
}

/** Polls fn until it returns true (then resolves) or ms pass (then throws, naming what). */
async function eventually(what: string, fn: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const row = (label: string): string => `tr[data-container="${label}"]`;

describe.skipIf(skipUnlessRoot)('dashboard in headless Chromium against macebpf demo', () => {
  let demo: Demo;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    assertBuilt();
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    demo = await startDemo();
    browser = await launch();
    page = await browser.context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
  }, 60_000);

  test('page loads, lists the demo containers, and the latency chart receives points within 5 s', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(demo.url);
    await page.waitForSelector('[data-testid=conn][data-state=open]', { timeout: 5000 });
    for (const c of demo.containers) await page.waitForSelector(row(c), { timeout: 5000 });
    await page.click(row(demo.containers[0]));
    await eventually('points in the latency chart', async () => (await num(page, '[data-testid=chart-latency]', 'data-points')) > 0, 5000);
    expect(errors).toEqual([]);
  });

  test('tracing off stops a container\'s new points; on again resumes them', async () => {
    const c = demo.containers[0];
    await page.click(row(c));
    const newest = (): Promise<number> => num(page, '[data-testid=chart-latency]', 'data-last');
    await eventually('points of ' + c, async () => (await newest()) > 0, 5000);
    await page.uncheck(`${row(c)} [data-testid=trace-toggle]`);
    await page.waitForSelector(`${row(c)}[data-traced=false]`, { timeout: 5000 });
    await page.waitForTimeout(1500); // records already in flight still arrive
    const stoppedAt = await newest();
    await page.waitForTimeout(3000);
    expect(await newest()).toBe(stoppedAt);
    await page.check(`${row(c)} [data-testid=trace-toggle]`);
    await page.waitForSelector(`${row(c)}[data-traced=true]`, { timeout: 5000 });
    await eventually('new points after tracing is on again', async () => (await newest()) > stoppedAt, 5000);
  });

  test('a toggle shows what was asked until the daemon answers, and goes back when the daemon refuses', async () => {
    // a second page whose WebSocket is routed through the test: its untrace is
    // held until the test releases it (the page re-renders every second
    // meanwhile), and its trace is answered with an error in the daemon's stead
    const held = await browser.context.newPage();
    let release: (() => void) | undefined;
    const c = demo.containers[1];
    const toggle = `${row(c)} [data-testid=trace-toggle]`;
    try {
      await held.routeWebSocket(/\/ws$/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((m) => {
          const msg = JSON.parse(String(m)) as { type: string; id?: string };
          if (msg.type === 'untrace') release = () => server.send(m);
          else if (msg.type === 'trace') ws.send(JSON.stringify({ type: 'error', id: msg.id, code: 'busy', message: 'refused by the test' }));
          else server.send(m);
        });
      });
      await held.goto(demo.url);
      await held.waitForSelector(`${row(c)}[data-traced=true]`, { timeout: 5000 });
      await held.uncheck(toggle);
      const seen = new Set<string>();
      for (const end = Date.now() + 2500; Date.now() < end; ) {
        seen.add(`traced ${await held.getAttribute(row(c), 'data-traced')}, toggle ${(await held.isChecked(toggle)) ? 'on' : 'off'}`);
        await held.waitForTimeout(100);
      }
      // the daemon still traces c (its untrace is held), yet the toggle stayed as asked
      expect([...seen]).toEqual(['traced true, toggle off']);
      expect(release).toBeDefined();
      release!();
      await held.waitForSelector(`${row(c)}[data-traced=false]`, { timeout: 5000 });
      expect(await held.isChecked(toggle)).toBe(false);
      await held.click(toggle); // refused: back to what the daemon says, and the error shown
      await expect.poll(() => held.textContent('[data-testid=banner]')).toContain('refused by the test');
      expect(await held.isChecked(toggle)).toBe(false);
      expect(await held.getAttribute(row(c), 'data-traced')).toBe('false');
    } finally {
      await held.close();
      // c traced again for the tests below, through the page that is not
      // routed; in the background it drew no frames, so it is reloaded to
      // show the daemon's state before its toggle is used
      await page.bringToFront();
      await page.reload();
      await page.waitForSelector('[data-testid=conn][data-state=open]', { timeout: 5000 });
      await page.waitForSelector(row(c), { timeout: 5000 });
      await page.check(toggle);
      await page.waitForSelector(`${row(c)}[data-traced=true]`, { timeout: 5000 });
    }
  });

  test('setting a limit moves the achieved rate toward it; removing it lifts the rate', async () => {
    const c = demo.bulk;
    await page.click(row(c));
    const limitBps = 4e6 / 8; // 4 Mbit/s, below the demo's 10 Mbit/s and the flow's 40 Mbit/s
    await page.fill('[data-testid=limit-rate]', '4mbit');
    await page.click('[data-testid=limit-set]');
    await page.waitForSelector(`${row(c)} >> text=4.0 Mbit/s`, { timeout: 5000 });
    // policing: TCP settles below the rate; never above it (plus a sample's jitter)
    await eventually('the achieved rate near 4 Mbit/s', async () => {
      const a = await num(page, '[data-testid=achieved]', 'data-bps');
      return a > 0.3 * limitBps && a < 1.2 * limitBps;
    }, 15_000);
    await page.click('[data-testid=limit-remove]');
    await page.waitForSelector('[data-testid=limit-none]', { timeout: 5000 });
    await eventually('egress bytes/s well above the removed limit', async () => (await num(page, `${row(c)} [data-testid=bps]`, 'data-value')) > 2 * limitBps, 15_000);
  });

  test('a bad rate shows its error inline and changes nothing', async () => {
    await page.click(row(demo.containers[0]));
    await page.fill('[data-testid=limit-rate]', '10 potatoes');
    await page.click('[data-testid=limit-set]');
    await expect.poll(() => page.textContent('[data-testid=limit-error]')).toContain('invalid rate "10 potatoes"');
    expect(await page.textContent('[data-testid=limit-error]')).toContain('unknown unit');
    await page.waitForSelector('[data-testid=limit-none]');
  });

  test('CSV download has the header and rows of the selected container only', async () => {
    const c = demo.containers[0];
    await page.click(row(c));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=csv]')]);
    const file = path.join(ARTIFACTS, `${c}.csv`);
    await download.saveAs(file);
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines.length).toBeGreaterThan(10);
    const containers = new Set(lines.slice(1).map((l) => l.split(',')[1]));
    expect([...containers]).toEqual([c]);
  });

  test('a namespace the daemon does not trace yet is listed under the containers, and its toggle traces it', async () => {
    const id = /^mb-(\w+)-c\d+$/.exec(demo.containers[0])![1];
    const name = `mb-${id}-cand`; // named like the lab's, so a crashed run's is reaped with it
    const candidate = `[data-testid=candidates] tr[data-candidate="${name}"]`;
    execFileSync('ip', ['netns', 'add', name]);
    try {
      await page.waitForSelector(candidate, { timeout: 10_000 }); // the page asks every 5 s
      expect(await page.textContent(candidate)).toContain('ip-netns: not traced');
      await page.check(`${candidate} [data-testid=candidate-toggle]`);
      await page.waitForSelector(`${row(name)}[data-traced=true]`, { timeout: 5000 });
      await page.waitForSelector(candidate, { state: 'detached', timeout: 10_000 });
      await page.uncheck(`${row(name)} [data-testid=trace-toggle]`);
      await page.waitForSelector(`${row(name)}[data-traced=false]`, { timeout: 5000 });
    } finally {
      execFileSync('ip', ['netns', 'del', name]);
    }
  });

  test('light and dark screenshots', async () => {
    // after the tests above the demo has run ~20 s: a 30 s window is nearly full
    await page.click(row(demo.bulk));
    await page.selectOption('[data-testid=window]', '30');
    await page.fill('[data-testid=limit-rate]', '10mbit'); // the demo's limit again, as npm start shows it
    await page.click('[data-testid=limit-set]');
    await page.waitForSelector('[data-testid=achieved]', { timeout: 5000 });
    await page.waitForTimeout(3000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-light.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.waitForTimeout(1000);
    const bg = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    expect(bg).toBe('rgb(17, 20, 26)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-dark.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'light' });
    expect(fs.statSync(path.join(ARTIFACTS, 'dashboard-dark.png')).size).toBeGreaterThan(10_000);
  });

  test('a daemon that goes away shows as disconnected; restarted, the page reconnects', async () => {
    const port = demo.port;
    await demo.stop();
    await page.waitForSelector('[data-testid=conn][data-state=closed]', { timeout: 10_000 });
    expect(await page.getAttribute('[data-testid=banner]', 'data-kind')).toBe('gone');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-disconnected.png') });
    demo = await startDemo(port);
    await page.waitForSelector('[data-testid=conn][data-state=open]', { timeout: 15_000 });
    // a new demo has a new token: the old page's is refused, and says so
    await page.waitForSelector('[data-testid=banner][data-kind=token]', { timeout: 5000 });
    for (const c of demo.containers) await page.waitForSelector(row(c), { timeout: 5000 });
  });

  test('SIGTERM to the demo ends its traffic generators and removes its lab', async () => {
    const id = /^mb-(\w+)-c\d+$/.exec(demo.containers[0])![1];
    const target = /target mb-\w+-tgt: (\S+) /.exec(demo.stderr())![1];
    const mine = (): string[] =>
      fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).flatMap((p) => {
        try {
          const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
          return cmd.includes(target) || cmd.includes(`mb-${id}-`) ? [`${p}: ${cmd}`] : [];
        } catch {
          return []; // gone meanwhile
        }
      });
    expect(mine().length).toBeGreaterThan(0); // ping, UDP, iperf3 are running
    await demo.stop();
    expect(mine()).toEqual([]);
    expect(fs.readdirSync('/run/netns').filter((n) => n.startsWith(`mb-${id}-`))).toEqual([]);
  });
});
