// ended.ts - traced containers that end while a command runs: their netns
// goes away (`ip netns del`, the container's process exited). Tracing them
// stops, their records stay, and the command says so on stderr.
import type { StoredContainer } from '../core/store';
import type { Tracing } from '../host/tracing';

const CHECK_MS = 1000;

export const ALL_ENDED_NOTE = 'macebpf: every traced container ended; stopping\n';

export function endedNote(c: StoredContainer): string {
  return `macebpf: ${c.label} ended (netns ${c.netns} is gone): tracing it stopped, its ${c.records} records are kept\n`;
}

/**
 * Checks once a second for traced containers that ended and reports each;
 * calls allEnded once none is left. Returns the stop function.
 */
export function watchEnded(tracing: Tracing, report: (note: string) => void, allEnded: () => void): () => void {
  const timer = setInterval(() => {
    const ended = tracing.reapEnded();
    for (const c of ended) report(endedNote(c));
    if (ended.length && tracing.store.traced.length === 0) allEnded();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
