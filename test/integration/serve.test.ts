// `macebpf serve` as a user runs it: the compiled CLI in a child process,
// the lab, real pings; what WebSocket clients, the HTTP API, /metrics and
// the CSV endpoint get; tracing switched at run time; a clean SIGTERM. Root only.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSV_HEADER, formatCsvRow, rowsFromFrame } from '../../src/core/csv';
import type { ContainerView, Summary } from '../../src/core/protocol';
import type { ContainerStatistics } from '../../src/host/statistics';
import { resolveNetns } from '../../src/host/netns';
import { run, sleep } from '../../src/lab/exec';
import { labDown, labUp, reapLabs, type Lab } from '../../src/lab/topology';
import { killAllTraffic, ping } from '../../src/lab/traffic';
import { leftoverPrograms, ourProgramIds } from '../support/bpf';
import { assertBuilt, killCli, until } from '../support/cli';
import { connect, frameNetns, http, startDaemon, type Daemon, type WsClient } from '../support/daemon';
import { isRoot, skipUnlessRoot } from '../support/root';

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && want.every((w) => (m[1] ?? '').split(',').includes(w))) return Number(m[2]);
  }
  throw new Error(`no ${name}${JSON.stringify(labels)} in /metrics`);
}

describe.skipIf(skipUnlessRoot)('macebpf serve (root, real kernel, lab)', () => {
  let lab: Lab;
  let tmp: string;
  let d: Daemon;
  let c1: { name: string; inode: number };
  let c2: { name: string; inode: number };
  const clients: WsClient[] = [];
  let programsBefore: Set<number>;

  beforeAll(async () => {
    if (!isRoot) throw new Error('serve integration tests need root (CI=true: they must run, not skip)');
    assertBuilt();
    await reapLabs();
    lab = await labUp({ containers: 2 });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-serve-'));
    c1 = { name: lab.containers[0].name, inode: resolveNetns(lab.containers[0].name).inode };
    c2 = { name: lab.containers[1].name, inode: resolveNetns(lab.containers[1].name).inode };
    programsBefore = await ourProgramIds();
    d = await startDaemon(['--netns', c1.name, '--outer', lab.host.uplink, '--outer-netns', lab.host.name], path.join(tmp, 'token'));
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    killCli();
    killAllTraffic();
    if (lab) await labDown(lab);
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('writes its token to a 0600 file and binds loopback only', () => {
    expect(fs.statSync(path.join(tmp, 'token')).mode & 0o777).toBe(0o600);
    expect(d.token.length).toBeGreaterThanOrEqual(24);
    const ss = execFileSync('ss', ['-Hltn', `sport = :${d.port}`], { encoding: 'utf8' });
    expect(ss).toContain(`127.0.0.1:${d.port}`);
  });

  it('streams binary frames of the traced container only; tracing c2 over HTTP adds it, untracing stops it', async () => {
    const ws = await connect(d.port);
    clients.push(ws);
    const hello = ws.json.find((m) => m.type === 'hello')!;
    expect(hello).toMatchObject({ type: 'hello', version: 1, server: 'macebpf', authenticated: false });
    await Promise.all([
      ping(c1.name, lab.target.ip4, { count: 20, intervalS: 0.01 }),
      ping(c2.name, lab.target.ip4, { count: 20, intervalS: 0.01 }),
    ]);
    await until('frames of c1', () => frameNetns(ws).filter((n) => n === c1.inode).length >= 40);
    expect(new Set(frameNetns(ws))).toEqual(new Set([c1.inode]));

    const traced = await http(d.base, `/api/containers/${c2.name}/trace`, { method: 'POST', token: d.token });
    expect(traced.status, traced.text).toBe(200);
    expect((traced.json() as { container: ContainerView }).container).toMatchObject({ label: c2.name, netns: c2.inode, traced: true });
    await until('the containers message', () => ws.json.some((m) => m.type === 'containers' && m.containers.some((c) => c.netns === c2.inode && c.traced)));
    const onlyC2 = await connect(d.port);
    clients.push(onlyC2);
    expect(await onlyC2.request({ type: 'subscribe', containers: [c2.name] })).toMatchObject({ type: 'reply', ok: true });
    await Promise.all([ping(c2.name, lab.target.ip6, { count: 20, intervalS: 0.01 }), ping(c1.name, lab.target.ip4, { count: 20, intervalS: 0.01 })]);
    await until('frames of c2', () => frameNetns(ws).filter((n) => n === c2.inode).length >= 40);
    await until('frames of c2 for its subscriber', () => frameNetns(onlyC2).length >= 40);
    expect(new Set(frameNetns(onlyC2))).toEqual(new Set([c2.inode])); // subscribed to c2 only, while c1 sent too

    const untraced = await http(d.base, `/api/containers/${c2.name}/trace`, { method: 'DELETE', token: d.token });
    expect(untraced.status, untraced.text).toBe(200);
    await sleep(300); // records already in flight may still arrive
    const before = frameNetns(ws).filter((n) => n === c2.inode).length;
    const before1 = frameNetns(ws).filter((n) => n === c1.inode).length;
    await Promise.all([ping(c2.name, lab.target.ip4, { count: 20, intervalS: 0.01 }), sleep(5).then(() => ping(c1.name, lab.target.ip4, { count: 5, intervalS: 0.01 }))]);
    // c1 goes on being recorded (5 echoes, both ways) while c2 is not.
    await until('c1\'s frames after the untrace', () => frameNetns(ws).filter((n) => n === c1.inode).length >= before1 + 10);
    await sleep(300);
    expect(frameNetns(ws).filter((n) => n === c2.inode).length).toBe(before);
  });

  it('sends summaries with quantiles, rates and the BPF self-overhead per packet', async () => {
    const ws = await connect(d.port);
    clients.push(ws);
    const flood = ping(c1.name, lab.target.ip4, { count: 400, intervalS: 0.005 });
    await until('two summaries', () => ws.json.filter((m) => m.type === 'summary').length >= 2, 10_000);
    await flood;
    const s = ws.json.filter((m): m is Summary => m.type === 'summary').at(-1)!;
    const mine = s.containers.find((c) => c.netns === c1.inode)!;
    expect(mine.directions.egress.count).toBeGreaterThan(0);
    expect(mine.directions.egress.p50).toBeGreaterThan(1000);
    expect(mine.directions.egress.p99!).toBeGreaterThanOrEqual(mine.directions.egress.p50!);
    expect(mine.directions.egress.pps).toBeGreaterThan(10);
    expect(s.bpfNsPerPacket).toBeGreaterThan(10);
    expect(s.dropped).toEqual({ frames: 0, records: 0 });
  });

  it('statistics.json counters grow with traffic; /metrics passes promtool and agrees with them', async () => {
    const get = async (): Promise<ContainerStatistics> => {
      const r = await http(d.base, '/monitor/statistics.json');
      expect(r.status).toBe(200);
      return (r.json() as ContainerStatistics[]).find((x) => x.netns === c1.inode)!;
    };
    const a = await get();
    expect(a.executor_id).toBe(c1.name);
    await ping(c1.name, lab.target.ip4, { count: 30, intervalS: 0.01 });
    await sleep(200);
    const b = await get();
    expect(b.statistics.net_tx_packets).toBeGreaterThanOrEqual(a.statistics.net_tx_packets + 30);
    expect(b.statistics.net_rx_bytes).toBeGreaterThan(a.statistics.net_rx_bytes);

    // The same kernel counters, read between two statistics.json readings
    // (stray IPv6 neighbour traffic may add a packet between them).
    const before = await get();
    const m = await http(d.base, '/metrics');
    const after = await get();
    expect(m.status).toBe(200);
    const check = await run('promtool', ['check', 'metrics'], { input: m.text, okCodes: [] });
    expect(check.code).toBe(0);
    for (const f of ['rx_bytes', 'rx_packets', 'tx_bytes', 'tx_packets', 'rx_dropped', 'tx_errors'] as const) {
      const v = metricValue(m.text, `macebpf_net_${f}_total`, { container: c1.name });
      expect(v, f).toBeGreaterThanOrEqual(before.statistics[`net_${f}`]);
      expect(v, f).toBeLessThanOrEqual(after.statistics[`net_${f}`]);
    }
    expect(after.statistics.net_tx_packets - before.statistics.net_tx_packets).toBeLessThan(5);
    expect(metricValue(m.text, 'macebpf_latency_seconds_count', { container: c1.name, direction: 'egress', protocol: 'icmp', part: 'total' })).toBeGreaterThan(0);
    expect(metricValue(m.text, 'macebpf_latency_seconds_bucket', { container: c1.name, direction: 'egress', protocol: 'icmp', part: 'total', le: '+Inf' })).toBe(
      metricValue(m.text, 'macebpf_latency_seconds_count', { container: c1.name, direction: 'egress', protocol: 'icmp', part: 'total' }),
    );
    expect(metricValue(m.text, 'macebpf_bpf_seconds_per_packet', {})).toBeGreaterThan(0);
    expect(m.text).not.toMatch(/198\.1[89]\.|fd00:/); // no addresses as labels
  });

  it('the CSV endpoint streams the header and the same rows the WebSocket sent', async () => {
    const ws = await connect(d.port);
    clients.push(ws);
    expect(await ws.request({ type: 'subscribe', containers: [c1.name] })).toMatchObject({ type: 'reply', ok: true });
    await ping(c1.name, lab.target.ip4, { count: 30, intervalS: 0.01 });
    await ping(c1.name, lab.target.ip6, { count: 10, intervalS: 0.01 });
    await until('frames', () => frameNetns(ws).length >= 80);
    await sleep(200);
    const wsRows = ws.frames.flatMap((f) => rowsFromFrame(f, () => c1.name)).map(formatCsvRow);
    const first = ws.frames[0]!;
    const sinceMs = Number((first.baseNs + BigInt(Math.floor(first.t[0]!))) / 1_000_000n) - 1;
    const csv = await http(d.base, `/api/latencies.csv?container=${c1.name}&since=${sinceMs}&follow=0`);
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.trimEnd().split('\n');
    expect(lines[0]).toBe(CSV_HEADER);
    const lo = wsRows[0]!.split(',')[0]!;
    const wsSet = new Set(wsRows);
    const csvInRange = lines.slice(1).filter((l) => BigInt(l.split(',')[0]!) >= BigInt(lo));
    for (const r of wsRows) expect(csvInRange).toContain(r);
    expect(csvInRange.filter((l) => !wsSet.has(l))).toEqual([]); // nothing the WebSocket did not send
    expect(new Set(lines.slice(1).map((l) => l.split(',')[1]))).toEqual(new Set([c1.name]));
  });

  it('serves, per echo of a ping running in a container, the parts to subtract and the outer RTT', async () => {
    const since = Date.now(); // earlier tests pinged with the same sequence numbers
    const r = await ping(c1.name, lab.target.ip4, { count: 30, intervalS: 0.01 });
    await sleep(200);
    const res = await http(d.base, `/api/echoes?container=${c1.name}&since=${since}`);
    expect(res.status, res.text).toBe(200);
    const { echoes } = res.json() as { echoes: { seq: number; egress_ns: number; ingress_ns: number; outer_ns: number }[] };
    const seqs = new Set(echoes.map((e) => e.seq));
    for (const seq of r.rttsMs.keys()) expect(seqs.has(seq), `seq ${seq}`).toBe(true);
    expect(echoes.length).toBe(r.rttsMs.size);
    for (const e of echoes) {
      expect(e.egress_ns).toBeGreaterThan(0);
      expect(e.ingress_ns).toBeGreaterThan(0);
      expect(e.outer_ns).toBeGreaterThan(0);
      const raw = r.rttsMs.get(e.seq);
      if (raw !== undefined) expect(raw * 1e6 - e.egress_ns - e.ingress_ns).toBeGreaterThan(0); // corrected RTT
    }
    const bad = await http(d.base, '/api/echoes?container=nosuch');
    expect(bad.status).toBe(404);
  });

  it('limits a container at run time over HTTP and over an authenticated WebSocket; statistics, metrics and summaries show it', async () => {
    const put = await http(d.base, `/api/containers/${c1.name}/limit`, { method: 'PUT', token: d.token, body: JSON.stringify({ rate: '10mbit', horizon: '300ms' }) });
    expect(put.status, put.text).toBe(200);
    expect((put.json() as { container: ContainerView }).container.limit).toMatchObject({ rate_bytes_per_sec: 1_250_000, horizon_ns: 300e6, dev: 'eth0' });
    await ping(c1.name, lab.target.ip4, { count: 20, intervalS: 0.01, size: 1400 });
    const stats = (await http(d.base, '/monitor/statistics.json')).json() as ContainerStatistics[];
    const bw = stats.find((x) => x.netns === c1.inode)!.statistics.net_traffic_control_statistics;
    expect(bw).toHaveLength(1);
    expect(bw[0]).toMatchObject({ id: 'bw_limit' });
    expect(bw[0]!.packets).toBeGreaterThanOrEqual(20);
    const m = (await http(d.base, '/metrics')).text;
    expect(metricValue(m, 'macebpf_tc_limit_bytes_per_second', { container: c1.name, id: 'bw_limit' })).toBe(1_250_000);
    expect(metricValue(m, 'macebpf_tc_packets_total', { container: c1.name, id: 'bw_limit' })).toBeGreaterThanOrEqual(20);

    // The same over the WebSocket, authenticated by ?token= on the upgrade.
    const ws = await connect(d.port, { query: `?token=${encodeURIComponent(d.token)}` });
    clients.push(ws);
    expect(ws.json.find((x) => x.type === 'hello')).toMatchObject({ authenticated: true });
    expect(await ws.request({ type: 'limit', container: c1.name, rate: '37500KB' })).toMatchObject({ type: 'reply', ok: true, result: { limit: { rate_bytes_per_sec: 37500 * 1024, horizon_ns: 300e6 } } });
    await until('a summary with the new limit', () => ws.json.some((x) => x.type === 'summary' && x.containers.some((c) => c.netns === c1.inode && c.limit?.rate_bytes_per_sec === 37500 * 1024)));
    expect(await ws.request({ type: 'unlimit', container: c1.name })).toMatchObject({ type: 'reply', ok: true, result: { limit: null } });
    const after = (await http(d.base, '/monitor/statistics.json')).json() as ContainerStatistics[];
    expect(after.find((x) => x.netns === c1.inode)!.statistics.net_traffic_control_statistics).toEqual([]);
    const again = await http(d.base, `/api/containers/${c1.name}/limit`, { method: 'DELETE', token: d.token });
    expect(again.status).toBe(409);
  });

  it('bound to a non-loopback address, serves reads to anyone and mutations only with the token', async () => {
    // A second daemon inside the lab's host netns, on the bridge address the
    // containers reach: nothing in the root namespace is exposed.
    const host = lab.host.ip4;
    const other = await startDaemon(['--host', host, '--outer', lab.host.uplink], path.join(tmp, 'token-remote'), { netns: lab.host.name, host });
    try {
      const fromC2 = async (method: string, p: string, token?: string): Promise<number> => {
        const js = `fetch(${JSON.stringify(other.base + p)}, { method: ${JSON.stringify(method)}, headers: ${JSON.stringify(token ? { Authorization: `Bearer ${token}` } : {})} }).then((r) => console.log(r.status), (e) => { console.log('ERR', e.message); })`;
        const { stdout } = await run('ip', ['netns', 'exec', c2.name, process.execPath, '-e', js]);
        return Number(stdout.trim());
      };
      expect(await fromC2('GET', '/healthz')).toBe(200);
      expect(await fromC2('GET', '/monitor/statistics.json')).toBe(200);
      expect(await fromC2('GET', '/metrics')).toBe(200);
      expect(await fromC2('POST', `/api/containers/${c1.name}/trace`)).toBe(401);
      expect(await fromC2('POST', `/api/containers/${c1.name}/trace`, 'not-the-token')).toBe(401);
      expect(await fromC2('POST', `/api/containers/${c1.name}/trace`, other.token)).toBe(200);
    } finally {
      other.proc.child.kill('SIGTERM');
      expect((await other.proc.exited).code, other.proc.stderr()).toBe(0);
    }
  });

  it('a traced, limited container that ends (netns deleted) is let go: statistics leave it out, its records stay, the rest is served', async () => {
    const name = `mb-${lab.id}-end`;
    let deleted = false;
    try {
      await run('ip', ['netns', 'add', name]);
      await run('ip', ['-n', name, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
      await run('ip', ['-n', name, 'link', 'set', 'eth0', 'up']);
      await run('ip', ['-n', name, 'route', 'add', 'default', 'dev', 'eth0']); // a limit's device is the default route's
      const ws = await connect(d.port);
      clients.push(ws);
      const traced = await http(d.base, `/api/containers/${name}/trace`, { method: 'POST', token: d.token, body: '{"label":"ending"}' });
      expect(traced.status, traced.text).toBe(200);
      const limited = await http(d.base, '/api/containers/ending/limit', { method: 'PUT', token: d.token, body: '{"rate":"10mbit"}' });
      expect(limited.status, limited.text).toBe(200);
      const listed = async (): Promise<string[]> => {
        const r = await http(d.base, '/monitor/statistics.json');
        expect(r.status, r.text).toBe(200);
        return (r.json() as Array<{ executor_id: string }>).map((e) => e.executor_id);
      };
      expect(await listed()).toContain('ending');
      const seen = ws.json.length;

      await run('ip', ['netns', 'del', name]);
      deleted = true;
      await until('the daemon notes the ending', () => d.proc.stderr().includes('ending ended (netns'), 10_000);
      expect(await listed()).not.toContain('ending');
      expect(await listed()).toContain(c1.name);
      const view = ((await http(d.base, '/api/containers')).json() as { containers: Array<{ label: string; traced: boolean; limit: unknown }> }).containers.find((c) => c.label === 'ending');
      expect(view).toMatchObject({ traced: false, limit: null });
      await until('a containers message', () => ws.json.slice(seen).some((m) => m.type === 'containers'));
      const again = await http(d.base, '/api/containers/ending/limit', { method: 'PUT', token: d.token, body: '{"rate":"10mbit"}' });
      expect(again.status, again.text).toBe(409);
      expect(again.json()).toMatchObject({ error: { code: 'conflict', message: expect.stringMatching(/"ending" ended: its netns \d+ .* is gone/) } });
      expect((await http(d.base, '/api/latencies.csv?container=ending&follow=0')).status).toBe(200);
    } finally {
      if (!deleted) await run('ip', ['netns', 'del', name]).catch(() => undefined);
    }
  });

  it('a live CSV stream follows new records and ends cleanly when the daemon gets SIGTERM; clients get 1001', async () => {
    const ws = await connect(d.port);
    const res = await fetch(`${d.base}/api/latencies.csv?container=${c1.name}&since=1s`);
    const reader = res.body!.getReader();
    let text = '';
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        text += Buffer.from(value).toString();
      }
    })();
    await ping(c1.name, lab.target.ip4, { count: 10, intervalS: 0.01 });
    await until('live rows', () => text.split('\n').length > 10);
    d.proc.child.kill('SIGTERM');
    const exit = await d.proc.exited;
    await reading;
    expect(exit.code, d.proc.stderr()).toBe(0);
    expect(text.startsWith(CSV_HEADER + '\n')).toBe(true);
    expect(text.endsWith('\n')).toBe(true);
    expect((await ws.closed).code).toBe(1001);
    expect(fs.existsSync(path.join(tmp, 'token'))).toBe(false);
    expect(await leftoverPrograms(d.proc.child.pid!, programsBefore)).toEqual([]);
  });
});
