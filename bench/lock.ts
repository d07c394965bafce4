// lock.ts - the shared-kernel lock. Runs that load BPF programs or create
// namespaces hold /tmp/macebpf-kernel.lock (flock) so they do not disturb
// each other. The intended invocation is `flock /tmp/macebpf-kernel.lock npm
// run bench`; when the bench was started without it, it takes the lock itself
// through a `flock` child that holds it as long as this process lives (its
// stdin is our pipe: when we exit, even by SIGKILL, it exits and the lock is
// released).
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';

export const KERNEL_LOCK = '/tmp/macebpf-kernel.lock';

interface LockHolder {
  pid: number;
}

/** FLOCK holders of the lock file, from /proc/locks ("1: FLOCK ADVISORY WRITE PID MAJ:MIN:INODE 0 EOF"). */
function holders(file: string): LockHolder[] {
  const st = fs.statSync(file);
  const out: LockHolder[] = [];
  for (const line of fs.readFileSync('/proc/locks', 'utf8').split('\n')) {
    const m = /^\d+:\s+(?:->\s+)?FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m && Number(m[4]) === st.ino) out.push({ pid: Number(m[1]) });
  }
  return out;
}

function parentOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[1]);
  } catch {
    return 0;
  }
}

function ancestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    pid = parentOf(pid);
  }
  return out;
}

export interface KernelLock {
  /** how the lock is held: by an ancestor (`flock … npm run bench`) or by our own flock child */
  how: 'ancestor' | 'own';
  release(): void;
}

/** Make sure the kernel lock is held for the rest of the run (waits at most waitMs for it). */
export async function holdKernelLock(waitMs = 15 * 60_000): Promise<KernelLock> {
  fs.closeSync(fs.openSync(KERNEL_LOCK, 'a'));
  const anc = ancestors();
  if (holders(KERNEL_LOCK).some((h) => anc.has(h.pid))) return { how: 'ancestor', release: () => undefined };

  process.stderr.write(`bench: taking ${KERNEL_LOCK} (run as \`flock ${KERNEL_LOCK} npm run bench\` to hold it from outside)\n`);
  const child: ChildProcess = spawn('flock', ['-w', String(Math.ceil(waitMs / 1000)), KERNEL_LOCK, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const release = (): void => {
    child.stdin?.end();
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  };
  process.once('exit', release);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setInterval(() => process.stderr.write(`bench: still waiting for ${KERNEL_LOCK} (another run holds it)\n`), 10_000);
    const done = (err?: Error): void => {
      clearInterval(timer);
      if (err) reject(err);
      else resolve();
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('locked')) done();
    });
    child.once('error', (e) => done(new Error(`cannot run flock: ${e.message}`)));
    child.once('exit', (code) => done(new Error(`flock ${KERNEL_LOCK} gave up (exit ${code}): another run holds the lock`)));
  });
  // The child outlives no one: it is killed on exit and exits on EOF of its stdin.
  child.unref();
  (child.stdout as NodeJS.ReadableStream & { unref?: () => void }).unref?.();
  return { how: 'own', release };
}
