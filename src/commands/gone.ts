// gone.ts - what a command says when what it traces goes away while it
// runs. A traced container ends with its netns (`ip netns del`, the
// container's process exited): tracing it stops and its records stay. The
// outer device going (its netns, or the device itself) ends the way of every
// record, so the command warns, once.
import type { StoredContainer } from '../core/store';
import { outerPresent, type OuterDevice } from '../host/iface';
import type { Tracing } from '../host/tracing';

const CHECK_MS = 1000;

export const ALL_ENDED_NOTE = 'macebpf: every traced container ended; stopping\n';

export function endedNote(c: StoredContainer): string {
  return `macebpf: ${c.label} ended (netns ${c.netns} is gone): tracing it stopped, its ${c.records} records are kept\n`;
}

export function outerGoneNote(dev: OuterDevice): string {
  return `macebpf: warning: the outer device ${dev.name} (netns ${dev.netns.label}) is gone: no egress record ends and no ingress record starts without it; restart with the new one (--outer, --outer-netns)\n`;
}

/**
 * Checks once a second for traced containers that ended and for the outer
 * device, reporting each once; calls allEnded once no container is left.
 * Returns the stop function.
 */
export function watchGone(tracing: Tracing, outer: OuterDevice, report: (note: string) => void, allEnded: () => void): () => void {
  let outerGone = false;
  const timer = setInterval(() => {
    const ended = tracing.reapEnded();
    for (const c of ended) report(endedNote(c));
    if (!outerGone && !outerPresent(outer)) {
      outerGone = true;
      report(outerGoneNote(outer));
    }
    if (ended.length && tracing.store.traced.length === 0) allEnded();
  }, CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}
