// How commands end, as a user meets it: output that goes away (`| head`),
// signals at any moment (during start-up, during shutdown), and the closing
// batch (every record the kernel emitted reaches the CSV). Each time, what
// the command made is gone: BPF programs, lab namespaces, token files,
// listening sockets. Root only.
import { deadlineMs } from '../support/timing';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_HEADER } from '../../src/core/csv';
import { ipn, run, sleep } from '../../src/lab/exec';
import { labDown, labUp, netnsList, reapLabs, type Lab } from '../../src/lab/topology';
import { killAllTraffic, ping } from '../../src/lab/traffic';
import { leftoverPrograms, ourProgramIds } from '../support/bpf';
import { assertBuilt, CLI, cli, killCli, until, type Cli } from '../support/cli';
import { isRoot, skipUnlessRoot } from '../support/root';

const EXIT_OUTPUT_CLOSED = 141;

describe.skipIf(skipUnlessRoot)('command lifecycle (root, real kernel, lab)', () => {
  let lab: Lab;
  let tmp: string;
  let traceArgs: string[];
  let serveArgs: (token: string) => string[];

  beforeAll(async () => {
    if (!isRoot) throw new Error('lifecycle tests need root (CI=true: they must run, not skip)');
    assertBuilt();
    await reapLabs();
    lab = await labUp({ containers: 2 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-life-'));
    const outer = ['--outer', lab.host.uplink, '--outer-netns', lab.host.name];
    traceArgs = ['trace', '--netns', lab.containers[0].name, ...outer];
    serveArgs = (token) => ['serve', '--port', '0', '--token-file', token, '--netns', lab.containers[0].name, ...outer];
  });

  afterAll(async () => {
    killCli();
    killAllTraffic();
    if (lab) await labDown(lab);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  // What a finished command must not leave behind.
  async function expectNothingLeft(p: Cli, progsBefore: Set<number>, nsBefore: string[], token?: string): Promise<void> {
    expect(await leftoverPrograms(p.child.pid!, progsBefore)).toEqual([]);
    expect((await netnsList()).filter((n) => !nsBefore.includes(n))).toEqual([]);
    if (token) expect(fs.existsSync(token)).toBe(false);
    expect(fs.existsSync(`/proc/${p.child.pid}`)).toBe(false);
  }

  const started = (p: Cli, what: RegExp): Promise<void> => until(`start: ${what}`, () => what.test(p.stderr()) || p.child.exitCode !== null, 30_000);

  it.each([
    ['trace', /tracing/],
    ['serve', /serving http/],
    ['demo', /serving http/],
  ])('%s ends within a second of its stdout reader going away, with exit code 141, leaving nothing', async (cmd, ready) => {
    const progs = await ourProgramIds();
    const ns = await netnsList();
    const token = path.join(tmp, `${cmd}.token`);
    const args = cmd === 'trace' ? traceArgs : cmd === 'serve' ? serveArgs(token) : ['demo', '--port', '0'];
    const p = cli(args);
    await started(p, ready);
    const t0 = performance.now();
    p.child.stdout!.destroy(); // the reader goes away, as `| head` does when it has its lines
    const exit = await p.exited;
    const ms = performance.now() - t0;
    console.log(`${cmd}: ended ${ms.toFixed(0)} ms after its stdout reader went away`);
    expect(exit.code, p.stderr()).toBe(EXIT_OUTPUT_CLOSED);
    expect(ms).toBeLessThan(deadlineMs(cmd === 'demo' ? 3000 : 1500)); // demo also deletes its lab's namespaces
    await expectNothingLeft(p, progs, ns, cmd === 'serve' ? token : undefined);
  });

  it('`trace --csv -` whose reader leaves mid-stream (`| head -3`) ends with 141, reports no CSV failure, leaves nothing', async () => {
    const progs = await ourProgramIds();
    const ns = await netnsList();
    const p = cli([...traceArgs, '--csv', '-']);
    await started(p, /tracing/);
    const flood = ping(lab.containers[0].name, lab.target.ip4, { count: 400, intervalS: 0.005 });
    let rows = '';
    await new Promise<void>((resolve) => {
      p.child.stdout!.on('data', (d: Buffer) => {
        rows += d.toString();
        if (rows.split('\n').length > 3) resolve();
      });
    });
    const t0 = performance.now();
    p.child.stdout!.destroy(); // head has its three lines and exits; the tracer is still writing rows
    const exit = await p.exited;
    const ms = performance.now() - t0;
    await flood;
    expect(rows.split('\n')[0]).toBe(CSV_HEADER);
    expect(exit.code, p.stderr()).toBe(EXIT_OUTPUT_CLOSED);
    expect(ms).toBeLessThan(deadlineMs(1500));
    // Its broken pipe is how the run ends, not an error of its own.
    expect(p.stderr()).toMatch(/standard output closed/);
    expect(p.stderr()).not.toMatch(/failed|EPIPE/);
    await expectNothingLeft(p, progs, ns);
  });

  it('`macebpf demo 2>&1 | head -3` ends soon after head exits and removes its lab', async () => {
    const ns = await netnsList();
    const sh = spawn('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} demo --port 0 2>&1 | head -3`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let headDone = 0;
    sh.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!headDone && out.split('\n').length > 3) headDone = performance.now();
    });
    const code = await new Promise<number | null>((r) => sh.on('close', r));
    const ms = performance.now() - (headDone || performance.now());
    console.log(`demo | head -3: pipeline ended ${ms.toFixed(0)} ms after head printed its lines`);
    expect(out.split('\n').filter(Boolean)).toHaveLength(3);
    expect(code).toBe(0); // the pipeline's status is head's
    expect(ms).toBeLessThan(deadlineMs(3000));
    expect((await netnsList()).filter((n) => !ns.includes(n))).toEqual([]);
  });

  it('containers that end (netns deleted) are reported and let go: trace, stats and limit go on with the rest, stop with 0 once none is left, and leave nothing', async () => {
    const progs = await ourProgramIds();
    const ns = await netnsList();
    // Throwaway containers with a device each (a veth pair inside), named like the lab's so a crashed run's are reaped.
    const names = ['a', 'b', 'stats', 'limit'].map((n) => `mb-${lab.id}-end-${n}`);
    const gone = new Set<string>();
    const end = async (n: string): Promise<void> => {
      await run('ip', ['netns', 'del', n]);
      gone.add(n);
    };
    try {
      for (const n of names) {
        await run('ip', ['netns', 'add', n]);
        await ipn(n, ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
        await ipn(n, ['link', 'set', 'eth0', 'up']);
      }
      const outer = ['--outer', lab.host.uplink, '--outer-netns', lab.host.name];
      const trace = cli(['trace', '--netns', names[0], '--netns', names[1], ...outer]);
      const stats = cli(['stats', '--netns', names[2], '--interval', '300ms', '--count', '1000']);
      const limit = cli(['limit', '--netns', names[3], '--dev', 'eth0', '--rate', '10mbit']);
      await started(trace, /tracing/);
      await until('stats and limit report', () => stats.stdout().includes('net_rx_bytes') && /packets \d+/.test(limit.stdout()), 30_000);

      await end(names[0]);
      await until('trace notes the first ending', () => trace.stderr().includes(`${names[0]} ended (netns`), 10_000);
      await sleep(1500);
      expect(trace.child.exitCode, 'trace goes on with the container that is left').toBeNull();
      expect(trace.stderr()).not.toMatch(/every traced container ended/);
      await end(names[1]);
      await Promise.all([end(names[2]), end(names[3])]);

      for (const [p, said] of [
        [trace, /every traced container ended; stopping/],
        [stats, /every traced container ended; stopping/],
        [limit, /ended \(netns \d+ is gone\), and its limit with it; stopping/],
      ] as const) {
        const exit = await Promise.race([p.exited, sleep(deadlineMs(5000)).then(() => 'still running' as const)]);
        expect(exit, p.stderr()).toEqual({ code: 0, signal: null });
        expect(p.stderr()).toMatch(said);
        expect(p.stderr()).not.toMatch(/error|failed/i);
        await expectNothingLeft(p, progs, ns);
      }
      const arrays = stats.stdout().trimEnd().split(/\n(?=\[)/).map((a) => JSON.parse(a) as unknown[]);
      expect(arrays[0]).toHaveLength(1);
      expect(arrays.at(-1), 'the last statistics leave the ended container out').toEqual([]);
    } finally {
      for (const n of names) if (!gone.has(n)) await run('ip', ['netns', 'del', n]).catch(() => undefined);
    }
  });

  it('an outer device that goes away is warned about once, by trace and serve (healthz: degraded), which go on', async () => {
    const name = `mb-${lab.id}-outer`;
    try {
      await run('ip', ['netns', 'add', name]);
      await ipn(name, ['link', 'add', 'up9', 'type', 'veth', 'peer', 'name', 'up9p']);
      await ipn(name, ['link', 'set', 'up9', 'up']);
      const outer = ['--outer', 'up9', '--outer-netns', name];
      const trace = cli(['trace', '--netns', lab.containers[0].name, ...outer, '--duration', '6']);
      const token = path.join(tmp, 'outer.token');
      const serve = cli(['serve', '--port', '0', '--token-file', token, '--netns', lab.containers[0].name, ...outer]);
      await started(trace, /tracing/);
      await started(serve, /serving http:\/\/[^ ]+:(\d+)/);
      const port = /serving http:\/\/[^ ]+:(\d+)/.exec(serve.stderr())![1];
      const health = async (): Promise<{ status: string; outer: { present: boolean } }> => (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string; outer: { present: boolean } };
      expect(await health()).toMatchObject({ status: 'ok', outer: { present: true } });

      await ipn(name, ['link', 'del', 'up9']); // the device goes, its netns stays (a netns that goes is the same case)
      const warning = /warning: the outer device up9 \(netns mb-\w+-outer\) is gone/;
      await until('both warn', () => warning.test(trace.stderr()) && warning.test(serve.stderr()), 10_000);
      expect(await health()).toMatchObject({ status: 'degraded', outer: { present: false } });
      await sleep(2000);
      const warnings = (p: Cli): number => p.stderr().split('\n').filter((l) => warning.test(l)).length;
      expect(warnings(trace), 'once').toBe(1);
      expect(warnings(serve), 'once').toBe(1);
      expect((await trace.exited).code, trace.stderr()).toBe(0); // its --duration, not the warning, ended it
      serve.child.kill('SIGTERM');
      expect((await serve.exited).code, serve.stderr()).toBe(0);
    } finally {
      await run('ip', ['netns', 'del', name]);
    }
  });

  it('trace ends when its stderr reader goes away', async () => {
    const progs = await ourProgramIds();
    const p = cli(traceArgs);
    await started(p, /tracing/);
    p.child.stderr!.destroy();
    const exit = await p.exited;
    expect(exit.code).toBe(EXIT_OUTPUT_CLOSED);
    await expectNothingLeft(p, progs, await netnsList());
  });

  it.each([0, 50, 150, 300, 600])('serve given SIGTERM %i ms into its start-up leaves nothing', async (delayMs) => {
    const progs = await ourProgramIds();
    const ns = await netnsList();
    const token = path.join(tmp, `startup-${delayMs}.token`);
    const p = cli(serveArgs(token));
    await sleep(delayMs);
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect([0, null], p.stderr()).toContain(exit.code); // null: killed before its handlers were installed
    await expectNothingLeft(p, progs, ns, token);
  });

  it.each([100, 400, 900])('demo given SIGTERM %i ms into its start-up removes the lab it was building', async (delayMs) => {
    const progs = await ourProgramIds();
    const ns = await netnsList();
    const p = cli(['demo', '--port', '0']);
    await sleep(delayMs);
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect([0, null], p.stderr()).toContain(exit.code);
    await expectNothingLeft(p, progs, ns);
  });

  it.each(['serve', 'demo'])('%s given a second SIGTERM during its shutdown still leaves nothing', async (cmd) => {
    const progs = await ourProgramIds();
    const ns = await netnsList();
    const token = path.join(tmp, `twice-${cmd}.token`);
    const p = cli(cmd === 'serve' ? serveArgs(token) : ['demo', '--port', '0']);
    await started(p, /serving http/);
    p.child.kill('SIGTERM');
    await sleep(20);
    p.child.kill('SIGTERM');
    await sleep(20);
    p.child.kill('SIGINT');
    const exit = await p.exited;
    expect(exit.code, p.stderr()).toBe(0);
    await expectNothingLeft(p, progs, ns, cmd === 'serve' ? token : undefined);
  });

  it.each([
    ['a port in use', (port: number) => ['--port', String(port)], /the port is in use/],
    ['an address of no interface', () => ['--host', '198.18.255.254', '--port', '0'], /no interface of this host has address 198\.18\.255\.254/],
  ])('serve on %s says so, exits 1 and leaves nothing', async (_what, extra, msg) => {
    const first = cli(serveArgs(path.join(tmp, 'first.token')));
    await started(first, /serving http/);
    const port = Number(/\(port (\d+)\)/.exec(first.stderr())![1]);
    const progs = await ourProgramIds();
    const ns = await netnsList();
    const token = path.join(tmp, 'second.token');
    const outer = ['--outer', lab.host.uplink, '--outer-netns', lab.host.name];
    const second = cli(['serve', '--token-file', token, '--netns', lab.containers[0].name, ...outer, ...extra(port)]);
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    expect(second.stderr()).toMatch(msg);
    await expectNothingLeft(second, progs, ns, token);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });

  it('the closing batch: trace --duration with a flood ping writes one CSV row per record the kernel emitted', async () => {
    const csv = path.join(tmp, 'flood.csv');
    const p = cli([...traceArgs, '--duration', '3', '--csv', csv]);
    await started(p, /tracing/);
    // Back-to-back pings until the very end, so records are in flight when tracing stops.
    const flood = ping(lab.containers[0].name, lab.target.ip4, { count: 1_000_000, intervalS: 0, flood: true, waitS: 1 }).catch(() => undefined);
    const exit = await p.exited;
    killAllTraffic();
    await flood;
    expect(exit.code, p.stderr()).toBe(0);
    const rows = fs.readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(rows[0]).toBe(CSV_HEADER);
    // Final table: container, dir, records, events, …, lost (last column).
    const table = p.stdout().split('\n').filter((l) => l.startsWith(lab.containers[0].name)).map((l) => l.trim().split(/\s+/));
    expect(table).toHaveLength(2);
    const events = table.reduce((s, r) => s + Number(r[3]), 0);
    const delivered = table.reduce((s, r) => s + Number(r[2]), 0);
    const lost = table.reduce((s, r) => s + Number(r.at(-1)), 0);
    console.log(`closing batch: ${rows.length - 1} CSV rows, ${events} kernel events, ${lost} lost`);
    expect(events).toBeGreaterThan(1000);
    expect(delivered).toBe(events);
    expect(rows.length - 1).toBe(events);
  });
});
