// Child-process helpers for the lab: bounded run time, errors that name the
// command and its stderr, and a registry so every child we start can be
// killed by its own pid (on stop, on test failure; the CLI's shutdown and
// the tests' afterAll call killChildren).
import { spawn, type ChildProcess } from 'node:child_process';
import { inCgroup, netnsCgroup } from '../host/cgroup';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
    readonly stdout: string,
    reason?: string,
  ) {
    const why = reason ?? (signal ? `killed by ${signal}` : `exit code ${code}`);
    const err = stderr.trim();
    super(`command failed (${why}): ${command}${err ? `\n${err}` : ''}`);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  /** Kill the child (SIGKILL, by pid) after this many ms. Default 30 s. */
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** Exit codes besides 0 that are not errors (e.g. ping's 1 = no reply). */
  okCodes?: number[];
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

const live = new Set<ChildProcess>();

/** Track a child so killChildren()/process exit can kill it by pid. */
export function track(child: ChildProcess): void {
  if (child.pid === undefined) return;
  live.add(child);
  const forget = (): void => {
    live.delete(child);
  };
  child.once('exit', forget);
  child.once('error', forget);
}

/** True while the child has not exited (pid not yet reusable). */
export function isRunning(child: ChildProcess): boolean {
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** Send a signal to one child by its own pid; ignores an already-gone child. */
export function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (!isRunning(child)) return;
  try {
    process.kill(child.pid as number, signal);
  } catch {
    /* already gone */
  }
}

/** Kill every child started through this module that is still running. */
export function killChildren(): void {
  for (const child of live) killChild(child);
}

export function quote(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Run a command to completion; rejects with a CommandError on failure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const command = quote(cmd, args);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    track(child);
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killChild(child);
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new CommandError(command, null, null, stderr, stdout, e.message));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(new CommandError(command, code, signal, stderr, stdout, `timed out after ${timeoutMs} ms`));
      } else if (code === 0 || (code !== null && (opts.okCodes ?? []).includes(code))) {
        resolve({ stdout, stderr, code });
      } else {
        reject(new CommandError(command, code, signal, stderr, stdout));
      }
    });
    child.stdin.on('error', () => undefined); // child may exit before reading
    child.stdin.end(opts.input ?? '');
  });
}

/** `ip -n NS args…` */
export function ipn(ns: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run('ip', ['-n', ns, ...args], opts);
}

/** The command line of `ip netns exec NS cmd args…`, in the netns's cgroup where it has one (a lab container). */
export function netnsArgv(ns: string, cmd: string, args: readonly string[]): [string, string[]] {
  return inCgroup(netnsCgroup(ns), 'ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** `ip netns exec NS cmd args…`, in the netns's cgroup where it has one */
export function nsExec(ns: string, cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run(...netnsArgv(ns, cmd, args), opts);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
