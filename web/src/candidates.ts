// candidates.ts - namespaces the daemon could trace (ip netns names, lab
// containers, docker and podman containers), from GET /api/containers: the
// daemon finds them with the runtimes' CLIs, too slow for every WebSocket
// message, so the page asks every few seconds while it is visible, and at
// once when asked (after a trace, so the list does not show it twice).
import type { Candidate } from '../../src/core/protocol';

const POLL_MS = 5000;

export function startCandidatePoll(onCandidates: (candidates: Candidate[]) => void): () => void {
  const poll = async (): Promise<void> => {
    if (document.visibilityState !== 'visible') return;
    try {
      const res = await fetch('/api/containers', { cache: 'no-store' });
      if (!res.ok) return;
      onCandidates(((await res.json()) as { candidates: Candidate[] }).candidates);
    } catch {
      // the daemon is gone: the connection's state says so
    }
  };
  void poll();
  setInterval(() => void poll(), POLL_MS);
  return () => void poll();
}
