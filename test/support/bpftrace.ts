// bpftrace.ts - run a bpftrace script as an independent observer of the
// kernel (its own programs on classic tracepoints, its own clock reads) and
// collect the lines it prints. As in bench/bpftrace.ts: bpftrace needs
// tracefs, which this machine's root mount namespace does not have and must
// not gain, so it runs in `unshare -m` with a private tracefs mount that
// vanishes with it (where tracefs is mounted already, as in the VM guests,
// that one is used). Its programs are owned by its fds: gone when it exits.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRunning, killChild, sleep, track } from '../../src/lab/exec';

export interface Bpftrace {
  /** Everything printed so far. */
  output(): string;
  /** SIGINT, wait for exit (SIGKILL after 10 s); returns the output. */
  stop(): Promise<string>;
}

/** Starts bpftrace; resolves once its BEGIN probe printed `ready`. */
export async function startBpftrace(script: string, timeoutMs = 30_000): Promise<Bpftrace> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-test-bt-'));
  const file = path.join(dir, 'observe.bt');
  fs.writeFileSync(file, `BEGIN { printf("ready\\n"); }\n${script}`);
  // unshare and sh exec in place: the pid we hold ends up being bpftrace's.
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', '{ [ -d /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing; } && exec bpftrace -B line "$0"', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stopping: Promise<string> | undefined;
  const stop = (): Promise<string> =>
    (stopping ??= (async () => {
      if (isRunning(child)) {
        killChild(child, 'SIGINT');
        if (!(await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]))) {
          killChild(child, 'SIGKILL');
          await exited;
        }
      }
      fs.rmSync(dir, { recursive: true, force: true });
      return out;
    })());
  const end = Date.now() + timeoutMs;
  while (!out.includes('ready\n')) {
    if (!isRunning(child) || Date.now() > end) {
      await stop();
      throw new Error(`bpftrace did not start: ${err.trim()} ${out.trim()}`);
    }
    await sleep(25);
  }
  return { output: () => out, stop };
}
