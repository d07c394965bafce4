// entry.ts - the process-wide wiring of an entry point (the CLI, the
// benchmark runner): signals, crashes and lost output all end in one
// shutdown that runs the cleanups and exits with a code that says why.
// Library modules never touch these; only entry points call install().
import { runCleanups } from './commands/lifecycle';
import { loadAddon } from './host/addon';

/** Exit codes (README): 0 done (and serve/demo stopped by a signal), 1 error, 129 SIGHUP, 130 SIGINT, 141 output closed, 143 SIGTERM. */
export const EXIT = { ok: 0, error: 1, sighup: 129, sigint: 130, outputClosed: 141, sigterm: 143 } as const;

const OUTPUT_POLL_MS = 200; // lost output is noticed within this, even while nothing is written
const CLEANUP_DEADLINE_MS = 15_000; // a stuck cleanup must not keep the process forever

let stderrAlive = true;
let exiting: number | undefined;
let signalsAreNormalStop = false;

/** For daemons (serve, demo): SIGINT/SIGTERM/SIGHUP are how they are meant to stop, so they exit 0. */
export function signalsEndNormally(): void {
  signalsAreNormalStop = true;
}

/** Writes a line to stderr unless stderr is gone (then the line has nowhere to go). */
export function report(msg: string): void {
  if (!stderrAlive) return;
  process.stderr.write(`macebpf: ${msg}\n`);
}

/** Runs every cleanup, then exits with code. A second call only waits for the first. */
export async function shutdown(code: number): Promise<void> {
  if (exiting !== undefined) return;
  exiting = code;
  setTimeout(() => {
    report(`cleanup did not finish within ${CLEANUP_DEADLINE_MS / 1000} s; exiting anyway`);
    process.exit(code);
  }, CLEANUP_DEADLINE_MS).unref();
  await runCleanups(report);
  process.exit(code);
}

function outputClosed(which: 'stdout' | 'stderr'): void {
  if (which === 'stderr') stderrAlive = false;
  if (exiting !== undefined) return;
  report(`standard output closed (reader went away); stopping`);
  void shutdown(EXIT.outputClosed);
}

// Which of stdout/stderr can lose their reader (pipes, sockets, terminals;
// never regular files), checked without writing to them.
function watchOutputs(): void {
  let outputGone: (fd: number) => boolean;
  try {
    outputGone = loadAddon().outputGone;
  } catch {
    return; // addon not built: write errors below still catch it
  }
  const timer = setInterval(() => {
    if (outputGone(1)) outputClosed('stdout');
    if (outputGone(2)) outputClosed('stderr');
  }, OUTPUT_POLL_MS);
  timer.unref();
}

export function install(): void {
  const signals = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm, SIGHUP: EXIT.sighup } as const;
  for (const [sig, code] of Object.entries(signals)) process.on(sig, () => void shutdown(signalsAreNormalStop ? EXIT.ok : code));
  // A write to a closed pipe is an 'error' event, not a crash; with no
  // listener it would throw, and reporting that on a dead stderr would throw again.
  process.stdout.on('error', () => outputClosed('stdout'));
  process.stderr.on('error', () => outputClosed('stderr'));
  process.on('uncaughtException', (err) => {
    report(err.stack ?? err.message);
    void shutdown(EXIT.error);
  });
  process.on('unhandledRejection', (err) => {
    report(err instanceof Error ? (err.stack ?? err.message) : String(err));
    void shutdown(EXIT.error);
  });
  watchOutputs();
}
