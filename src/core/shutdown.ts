// shutdown.ts - run cleanups once on normal exit, SIGINT, SIGTERM or a crash,
// so BPF programs, tc state and lab namespaces never outlive the process
// (SIGKILL is covered by fd-owned BPF links and the next start's reaping).

type Cleanup = () => void | Promise<void>;

const cleanups: Cleanup[] = [];
let installed = false;
let running: Promise<void> | undefined;

async function runCleanups(): Promise<void> {
  running ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop()!;
      try {
        await fn();
      } catch (err) {
        process.stderr.write(`macebpf: cleanup failed: ${(err as Error).message}\n`);
      }
    }
  })();
  return running;
}

/** Registers a cleanup (run last-registered first); returns a function that unregisters it. */
export function onShutdown(fn: Cleanup): () => void {
  if (!installed) {
    installed = true;
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => void shutdown(sig === 'SIGINT' ? 130 : 143));
    }
    process.on('uncaughtException', (err) => {
      process.stderr.write(`macebpf: ${err.stack ?? err.message}\n`);
      void shutdown(1);
    });
  }
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Runs every cleanup, then exits with code. */
export async function shutdown(code: number): Promise<never> {
  await runCleanups();
  process.exit(code);
}
