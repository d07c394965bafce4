// lifecycle.ts - what a command made is undone once, last made first, however
// the command ends: normally, on a signal, on lost output or on a crash.
// Commands register cleanups here; only an entry point (src/entry.ts) decides
// when they run and how the process exits.

type Cleanup = () => void | Promise<void>;

const cleanups: Cleanup[] = [];
let running: Promise<void> | undefined;

/** Registers a cleanup (run last-registered first); returns a function that unregisters it. */
export function onShutdown(fn: Cleanup): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every cleanup once; failures are passed to report and do not stop the rest. */
export function runCleanups(report: (msg: string) => void): Promise<void> {
  running ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        report(`cleanup failed: ${(err as Error).message}`);
      }
    }
  })();
  return running;
}
