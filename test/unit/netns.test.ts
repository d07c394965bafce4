// Uses real namespaces: needs root (creates and removes an `ip netns`).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentNetns, resolveNetns } from '../../src/host/netns';

const NAME = `mbtest-${randomBytes(4).toString('hex')}`;
let sleeper: ChildProcess | undefined;
let tmp: string | undefined;

beforeAll(() => {
  execFileSync('ip', ['netns', 'add', NAME]);
});

afterAll(() => {
  // Runs even when tests fail: leave nothing behind.
  sleeper?.kill('SIGKILL');
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  spawnSync('ip', ['netns', 'del', NAME]);
});

function inodeOf(p: string): number {
  return fs.statSync(p).ino;
}

describe('resolveNetns', () => {
  it('resolves an ip netns name to its inode, distinct from ours', () => {
    const ref = resolveNetns(NAME);
    expect(ref).toEqual({ spec: NAME, path: `/run/netns/${NAME}`, inode: inodeOf(`/run/netns/${NAME}`), label: NAME });
    expect(ref.inode).not.toBe(currentNetns().inode);
  });

  it('resolves absolute and relative paths to the same netns', () => {
    const abs = resolveNetns(`/run/netns/${NAME}`);
    const rel = path.relative(process.cwd(), `/run/netns/${NAME}`);
    expect(rel).toContain('/');
    const relRef = resolveNetns(rel);
    expect(abs.inode).toBe(resolveNetns(NAME).inode);
    expect(relRef.inode).toBe(abs.inode);
    expect(relRef.path).toBe(`/run/netns/${NAME}`); // absolute, usable from any cwd
    expect(abs.label).toBe(NAME);
  });

  it('pid:<our pid> and /proc/<pid>/ns/net are the caller netns', () => {
    const cur = currentNetns();
    expect(cur.inode).toBe(inodeOf('/proc/self/ns/net'));
    expect(cur.label).toBe('current');
    const ref = resolveNetns(`pid:${process.pid}`);
    expect(ref).toEqual({ spec: `pid:${process.pid}`, path: `/proc/${process.pid}/ns/net`, inode: cur.inode, label: `pid:${process.pid}` });
    expect(resolveNetns(`/proc/${process.pid}/ns/net`).inode).toBe(cur.inode);
  });

  it('pid:<process inside the netns> resolves to that netns', async () => {
    sleeper = spawn('ip', ['netns', 'exec', NAME, 'sleep', '30'], { stdio: 'ignore' });
    const pid = sleeper.pid as number;
    const want = inodeOf(`/run/netns/${NAME}`);
    // ip netns exec switches netns and then execs sleep: wait for the switch.
    const deadline = Date.now() + 5000;
    while (inodeOf(`/proc/${pid}/ns/net`) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(resolveNetns(`pid:${pid}`).inode).toBe(want);
    sleeper.kill('SIGKILL');
  });

  it.each([
    ['', /empty netns spec/],
    ['pid:abc', /malformed pid in netns spec "pid:abc": expected pid:N/],
    ['pid:', /malformed pid/],
    ['pid:-1', /malformed pid/],
    ['pid:999999999', /no such process 999999999/],
    ['/nonexistent/net', /\/nonexistent\/net does not exist/],
    ['/etc/hostname', /\/etc\/hostname is a regular file, not a network namespace/],
    ['/tmp/', /\/tmp is a directory, not a network namespace/],
    ['/proc/self/ns/mnt', /is a mnt namespace, not a network namespace/],
    ['docker:', /has no container name; use docker:NAME/],
  ])('rejects %j', (spec, why) => {
    expect(() => resolveNetns(spec)).toThrow(why);
  });

  it('lists the existing ip netns names when a name is unknown', () => {
    expect(() => resolveNetns('mbtest-no-such-ns')).toThrow(
      new RegExp(`no network namespace named "mbtest-no-such-ns" \\(existing: .*${NAME}.*\\); create it with \`ip netns add mbtest-no-such-ns\``),
    );
  });

  it('says when the docker CLI is missing', () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      expect(() => resolveNetns('docker:web')).toThrow('netns spec "docker:web" needs the docker CLI, which is not installed');
    } finally {
      process.env.PATH = saved;
    }
  });

  it('reports docker inspect failures with docker\'s own message', () => {
    const hasDocker = spawnSync('sh', ['-c', 'command -v docker']).status === 0;
    if (!hasDocker) return; // covered by the "CLI missing" test above
    // No such container, or no daemon: either way docker's stderr is shown.
    expect(() => resolveNetns('docker:mbtest-no-such-container')).toThrow(
      /`docker inspect mbtest-no-such-container` failed for netns spec "docker:mbtest-no-such-container": \S/,
    );
  });

  it('says to run as root when permission is denied', () => {
    // Run the module as user nobody, who may not look at pid 1's namespaces.
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mbtest-'));
    fs.chmodSync(tmp, 0o755);
    for (const mod of ['netns', 'cgroup']) {
      const src = fs.readFileSync(path.join(__dirname, `../../src/host/${mod}.ts`), 'utf8');
      const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
      fs.writeFileSync(path.join(tmp, `${mod}.js`), js, { mode: 0o644 });
    }
    const script = `try { require(${JSON.stringify(path.join(tmp, 'netns.js'))}).resolveNetns('pid:1'); } catch (e) { console.log(e.message); }`;
    const r = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8', cwd: '/' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(
      'permission denied reading /proc/1/ns/net (netns spec "pid:1"): run as root (CAP_SYS_ADMIN, and CAP_SYS_PTRACE for another user\'s process)',
    );
  });
});
