// stop.ts - how a long-running command ends: after --duration, when the
// process is asked to stop (Ctrl-C, SIGTERM, closed output), or when the
// command itself has nothing left to do (stopWhen). Either way its finish
// step runs once, and a shutdown waits for it.
import { onShutdown } from './lifecycle';

export async function untilStopped(durationNs: number | undefined, finish: () => Promise<void>, stopWhen?: (stop: () => void) => void): Promise<void> {
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  stopWhen?.(stop);
  const timer = durationNs !== undefined ? setTimeout(stop, durationNs / 1e6) : undefined;
  const finished = stopped.then(async () => {
    clearTimeout(timer);
    await finish();
  });
  const unregister = onShutdown(async () => {
    stop();
    await finished;
  });
  try {
    await finished;
  } finally {
    unregister(); // a failed finish is the command's error, not a cleanup's too
  }
}
