// statistics.ts - the kernel's drop reasons per container are in the
// daemon's Mesos-shaped /monitor/statistics.json, not in the WebSocket
// summaries; read them every few seconds while the page is visible.
const POLL_MS = 3000;

interface Entry {
  netns: number;
  statistics: { macebpf_drop_reasons?: Record<string, number> };
}

export function startStatisticsPoll(onDrops: (byNetns: Map<number, Record<string, number>>) => void): void {
  const poll = async (): Promise<void> => {
    if (document.visibilityState !== 'visible') return;
    try {
      const res = await fetch('/monitor/statistics.json', { cache: 'no-store' });
      if (!res.ok) return;
      const entries = (await res.json()) as Entry[];
      onDrops(new Map(entries.map((e) => [e.netns, e.statistics.macebpf_drop_reasons ?? {}])));
    } catch {
      // the daemon is gone: the connection's state says so
    }
  };
  void poll();
  setInterval(() => void poll(), POLL_MS);
}
