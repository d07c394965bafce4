// `macebpf trace` as a user runs it: the compiled CLI in a child process, the
// lab, real pings; the CSV it writes; what is left after it exits normally,
// on SIGTERM, on SIGKILL; the errors it gives for bad input. Root only.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_HEADER, parseCsvRow } from '../../src/core/csv';
import { resolveNetns } from '../../src/host/netns';
import { run } from '../../src/lab/exec';
import { labDown, labUp, listLabs, netnsList, reapLabs, type Lab } from '../../src/lab/topology';
import { killAllTraffic, ping } from '../../src/lab/traffic';
import { assertBuilt, CLI, cli, killCli, until, type Cli } from '../support/cli';
import { isRoot, skipUnlessRoot } from '../support/root';

/** Our BPF programs currently loaded in the kernel (names start with mb_). */
async function ourPrograms(): Promise<string[]> {
  const { stdout } = await run('bpftool', ['prog', 'list', '-j']);
  return (JSON.parse(stdout) as { name?: string }[]).map((p) => p.name ?? '').filter((n) => n.startsWith('mb_'));
}

async function programsAfterSettling(): Promise<string[]> {
  for (let i = 0; i < 40; i++) {
    const progs = await ourPrograms();
    if (progs.length === 0) return progs;
    await new Promise((r) => setTimeout(r, 50));
  }
  return ourPrograms();
}

/** The final table's records column summed over a container's rows: the session's count. */
function tableRecords(text: string, container: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(container))
    .reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[2]), 0);
}

describe.skipIf(skipUnlessRoot)('macebpf CLI (root, real kernel)', () => {
  let lab: Lab;
  let tmp: string;
  let traceArgs: string[];

  beforeAll(async () => {
    if (!isRoot) throw new Error('CLI integration tests need root (CI=true: they must run, not skip)');
    assertBuilt();
    await reapLabs();
    lab = await labUp({ containers: 2 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-cli-'));
    traceArgs = ['trace', '--netns', lab.containers[0].name, '--outer', lab.host.uplink, '--outer-netns', lab.host.name];
  });

  afterAll(async () => {
    killCli();
    killAllTraffic();
    if (lab) await labDown(lab);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('writes one CSV row per record with the exact header, and removes its programs on exit', async () => {
    const csv = path.join(tmp, 'out.csv');
    const t0 = BigInt(Date.now()) * 1_000_000n;
    const p = cli([...traceArgs, '--duration', '4s', '--csv', csv]);
    await until('the tracer to start', () => p.stderr().includes('tracing'));
    const res = await ping(lab.containers[0].name, lab.target.ip4, { count: 100, intervalS: 0.01 });
    await ping(lab.containers[0].name, lab.target.ip6, { count: 10, intervalS: 0.01 });
    const exit = await p.exited;
    const t1 = BigInt(Date.now()) * 1_000_000n;
    expect(exit.code, p.stderr()).toBe(0);

    const lines = fs.readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    const rows = lines.slice(1).map(parseCsvRow);
    // The CSV has exactly as many rows as the session counted.
    expect(rows.length).toBe(tableRecords(p.stdout(), lab.containers[0].name));
    const inode = resolveNetns(lab.containers[0].name).inode;
    for (const r of rows) {
      expect(r.container).toBe(lab.containers[0].name);
      expect(r.netns).toBe(inode);
      expect(r.timestampNs > t0 && r.timestampNs < t1).toBe(true);
      expect(r.latencyNs).toBeGreaterThan(0);
      if (r.stackNs !== null && r.virtNs !== null) expect(r.stackNs + r.virtNs).toBe(r.latencyNs);
    }
    const egressSeqs = new Set(rows.filter((r) => r.protocol === 'icmp' && r.direction === 'egress').map((r) => r.packetId));
    for (const seq of res.rttsMs.keys()) expect(egressSeqs.has(seq)).toBe(true);
    expect(rows.filter((r) => r.protocol === 'icmp6').length).toBe(20);
    expect(await programsAfterSettling()).toEqual([]);
  });

  it('detaches everything on SIGTERM and still closes the CSV', async () => {
    const csv = path.join(tmp, 'term.csv');
    const p = cli([...traceArgs, '--csv', csv]);
    await until('the tracer to start', () => p.stderr().includes('tracing'));
    expect((await ourPrograms()).length).toBeGreaterThan(0);
    await ping(lab.containers[0].name, lab.target.ip4, { count: 5, intervalS: 0.01 });
    p.child.kill('SIGTERM');
    const exit = await p.exited;
    expect(exit.code).toBe(143);
    const lines = fs.readFileSync(csv, 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines.length - 1).toBeGreaterThanOrEqual(10);
    expect(await programsAfterSettling()).toEqual([]);
  });

  it('leaves nothing after SIGKILL; a new start runs cleanly', async () => {
    const p = cli(traceArgs);
    await until('the tracer to start', () => p.stderr().includes('tracing'));
    p.child.kill('SIGKILL');
    await p.exited;
    // BPF links live in the process's file descriptors: the kernel detaches
    // them with the process (freeing may lag the exit by an RCU grace period).
    expect(await programsAfterSettling()).toEqual([]);
    const again = cli([...traceArgs, '--duration', '1']);
    expect((await again.exited).code, again.stderr()).toBe(0);
    expect(await programsAfterSettling()).toEqual([]);
  });

  it('a SIGKILLed demo leaves its lab; the next demo removes it, and its own on exit', async () => {
    const before = new Set(listLabs().map((l) => l.id));
    const d1 = cli(['demo', '--duration', '60', '--port', '0']);
    await until('the demo to trace', () => d1.stderr().includes('tracing'), 30_000);
    const killedLab = listLabs().find((l) => !before.has(l.id) && l.ownerPid === d1.child.pid);
    expect(killedLab).toBeDefined();
    d1.child.kill('SIGKILL');
    await d1.exited;
    expect((await netnsList()).some((n) => n.startsWith(`mb-${killedLab!.id}-`))).toBe(true);

    const d2 = cli(['demo', '--duration', '2', '--port', '0']);
    const exit = await d2.exited;
    expect(exit.code, d2.stderr()).toBe(0);
    expect(d2.stdout()).toMatch(/egress/);
    // Only labs that existed before remain (this suite's, and any of other runs).
    const left = (await netnsList()).filter((n) => n.startsWith('mb-') && ![...before].some((id) => n.startsWith(`mb-${id}-`)));
    expect(left).toEqual([]);
    expect(listLabs().filter((l) => !before.has(l.id))).toEqual([]);
    expect(await programsAfterSettling()).toEqual([]);
  });

  /** trace with extra options while c1 sends 20 pings; resolves when it has exited. */
  async function traceWhilePinging(extra: string[]): Promise<{ p: Cli; exit: { code: number | null } }> {
    const p = cli([...traceArgs, ...extra]);
    await until('the tracer to start', () => p.stderr().includes('tracing'));
    await ping(lab.containers[0].name, lab.target.ip4, { count: 20, intervalS: 0.01 });
    return { p, exit: await p.exited };
  }

  it('`--csv -` writes the CSV to stdout, alone, and the table to stderr', async () => {
    const { p, exit } = await traceWhilePinging(['--duration', '3s', '--csv', '-']);
    expect(exit.code, p.stderr()).toBe(0);
    const lines = p.stdout().trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    const rows = lines.slice(1).map(parseCsvRow); // every line after the header is a record
    expect(rows.length).toBeGreaterThanOrEqual(40);
    expect(rows.length).toBe(tableRecords(p.stderr(), lab.containers[0].name));
    expect(p.stderr()).toMatch(/CSV to standard output/);
  });

  it('`--csv -` on a terminal draws no table over the CSV rows (stdout and stderr both the terminal)', async () => {
    // script(1) gives the command a pseudo-terminal, as a user's shell does.
    const cmd = [process.execPath, CLI, ...traceArgs, '--duration', '3s', '--csv', '-'].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await until('the tracer to start', () => out.includes('tracing'));
      await ping(lab.containers[0].name, lab.target.ip4, { count: 20, intervalS: 0.01 });
      expect(await exited, out).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    expect(out.split(/\r?\n/).filter((l) => /^\d+,/.test(l)).length).toBeGreaterThanOrEqual(40); // CSV rows
    expect(out).not.toContain('\x1b[H'); // no redraw, no clear screen
    expect(await programsAfterSettling()).toEqual([]);
  });

  it('`ping --csv -` writes the echoes\' CSV to stdout and its table to stderr', async () => {
    const p = cli(['ping', '--netns', lab.containers[0].name, '--outer', lab.host.uplink, '--outer-netns', lab.host.name, '-c', '3', '-i', '0.05', '--csv', '-', lab.target.ip4]);
    const exit = await p.exited;
    expect(exit.code, p.stderr()).toBe(0);
    const lines = p.stdout().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^seq,timestamp_ns,raw_ns,/);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['1', '2', '3']);
    expect(p.stderr()).toMatch(/^\s+seq\s+raw\s+egress/m);
    expect(p.stderr()).toMatch(/3 sent, 3 replies, 3 matched/);
  });

  it('a CSV file that cannot be written is reported once, with the reason, and exits 1', async () => {
    const { p, exit } = await traceWhilePinging(['--duration', '2s', '--csv', '/dev/full']);
    expect(exit.code, p.stderr()).toBe(1);
    const failures = p.stderr().split('\n').filter((l) => /failed/.test(l));
    expect(failures).toEqual([expect.stringMatching(/^macebpf: CSV output failed: ENOSPC/)]);
    expect(await programsAfterSettling()).toEqual([]);
  });

  // Every value below passes node's argument parser (a string where a string
  // is expected); what rejects it is macebpf's own validation, whose whole
  // message is matched: it names the option (or spec) and the value given.
  // LAB0/LABHOST: the lab's container and host netns, so that nothing but
  // the value under test is wrong.
  it.each([
    [['trace', '--netns', 'no-such-netns-xyz'], /^macebpf: no network namespace named "no-such-netns-xyz" /],
    [['trace', '--netns', 'pid:abc'], /^macebpf: .*"pid:abc"/],
    [['trace', '--netns', 'pid:999999999'], /^macebpf: .*\b999999999\b/],
    [['trace'], /^macebpf: trace needs at least one --netns SPEC/],
    [['trace', '--netns', 'LAB0', '--outer', 'nope0', '--outer-netns', 'LABHOST'], /^macebpf: no interface "nope0" in netns LABHOST; it has: .*\bup0\b/],
    [['trace', '--netns', 'LAB0', '--outer-netns', 'no-such-netns-xyz'], /^macebpf: no network namespace named "no-such-netns-xyz" /],
    [['trace', '--netns', 'LAB0', '--duration', 'soon'], /^macebpf: invalid --duration "soon": not a number with a unit; use /],
    [['trace', '--netns', 'LAB0', '--inflight=-5'], /^macebpf: invalid --inflight "-5": use a whole number from 64 to 16777216$/],
    [['trace', '--netns', 'LAB0', '--inflight', '16'], /^macebpf: invalid --inflight "16": use a whole number from 64 to 16777216$/],
    [['trace', '--netns', 'LAB0', '--inflight', '1e3'], /^macebpf: invalid --inflight "1e3": use a whole number from 64 to 16777216$/],
    [['trace', '--netns', 'LAB0', '--inflight', '16777217'], /^macebpf: invalid --inflight "16777217": use a whole number from 64 to 16777216$/],
    [['trace', '--netns', 'LAB0', '--max-age', '0'], /^macebpf: invalid --max-age "0": use a duration from 1us to 4s /],
    [['trace', '--netns', 'LAB0', '--max-age', '5s'], /^macebpf: invalid --max-age "5s": use a duration from 1us to 4s /],
    [['trace', '--netns', 'LAB0', '--max-age', '10parsecs'], /^macebpf: invalid --max-age "10parsecs": unknown unit "parsecs"; use /],
    [['serve', '--port', '0', '--netns', 'LAB0', '--inflight', '16'], /^macebpf: invalid --inflight "16": use a whole number from 64 to 16777216$/],
    [['serve', '--port', '0', '--netns', 'LAB0', '--max-age', '500ns'], /^macebpf: invalid --max-age "500ns": use a duration from 1us to 4s /],
    [['limit', '--netns', 'LAB0', '--rate', '0mbit'], /^macebpf: invalid rate "0mbit": it must be greater than zero; /],
    // A value that starts with a dash reaches macebpf too, not the parser's "ambiguous" refusal.
    [['limit', '--netns', 'LAB0', '--rate', '-5mbit'], /^macebpf: invalid rate "-5mbit": it is negative; /],
    [['trace', '--netns', 'LAB0', '--duration', '-1'], /^macebpf: invalid --duration "-1": it is negative; /],
    [['ping', '--netns', 'LAB0', '-c', '-3', '198.18.0.1'], /^macebpf: invalid -c "-3": use a whole number from 1 to 1000000$/],
    [['limit', '--netns', 'LAB0', '--rate', '1mbit', '--horizon', '0'], /^macebpf: invalid --horizon "0": use a duration from 1us to 60s/],
    [['ping', '--netns', 'LAB0', '-s', '8', '198.18.0.1'], /^macebpf: invalid -s "8": use a payload size from 16 to 65507 bytes/],
    [['limit', '--netns', 'LAB0', '--rate', '9tbit'], /^macebpf: invalid rate "9tbit": it is above the largest limit of 8tbit \(1e12 bytes\/s\); /],
    // A CSV that cannot be written fails before anything is loaded (its message is the first line, not "tracing …").
    [['trace', '--netns', 'LAB0', '--csv', '/nonexistent-dir/x.csv'], /^macebpf: cannot write the CSV to \/nonexistent-dir\/x.csv: ENOENT: no such file or directory/],
    [['ping', '--netns', 'LAB0', '--csv', '/', '198.18.0.1'], /^macebpf: cannot write the CSV to \/: EISDIR/],
    // The outer device's netns has no container device: it would trace to nothing.
    [['trace', '--netns', 'LABHOST', '--outer', 'up0', '--outer-netns', 'LABHOST'], /^macebpf: cannot trace LABHOST \(netns \d+\): it holds the outer device up0, /],
    [['ping', '--netns', 'LABHOST', '--outer', 'up0', '--outer-netns', 'LABHOST', '198.19.0.1'], /^macebpf: cannot trace LABHOST \(netns \d+\): it holds the outer device up0, /],
    [['stats', '--netns', 'LAB0', '--interval', '1ms'], /^macebpf: invalid --interval "1ms": use a duration of at least 10ms /],
    [['frobnicate'], /^macebpf: unknown command "frobnicate"/],
  ])('rejects bad input %j with a specific error', async (args, message) => {
    const real = args.map((a) => (a === 'LAB0' ? lab.containers[0].name : a === 'LABHOST' ? lab.host.name : a));
    const p = cli(real);
    const exit = await p.exited;
    expect(exit.code, p.stderr()).toBe(1);
    // One line of macebpf's, not the addon's field names nor node's parser's wording.
    const text = p.stderr().trimEnd();
    const want = new RegExp(message.source.replace(/LABHOST/g, lab.host.name), message.flags);
    expect(text.split('\n')[0]).toMatch(want);
    expect(text).not.toMatch(/option '|argument is ambiguous|Unknown option/);
    expect(await programsAfterSettling()).toEqual([]);
  });
});
