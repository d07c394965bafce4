// threads.ts - CPU time of this process by thread, from
// /proc/self/task/*/schedstat (ns, unlike the 10 ms ticks of stat): the JS
// thread, the addon's poller (named mb-poller) and the rest (V8's GC and
// compiler threads, the libuv pool, where the synthetic producer runs).
import * as fs from 'node:fs';

export interface ThreadCpu {
  js: number;
  poller: number;
  other: number;
  /** of js: user and system time (clock ticks, as ns). Without
   * CONFIG_IRQ_TIME_ACCOUNTING the kernel charges softirq work (the network
   * stack, BPF device hooks) to whatever thread it interrupted, as system
   * time: user time is the JS work alone. */
  jsUser: number;
  jsSystem: number;
}

const TICK_NS = 1e9 / 100; // USER_HZ

export function threadCpuNs(): ThreadCpu {
  const out: ThreadCpu = { js: 0, poller: 0, other: 0, jsUser: 0, jsSystem: 0 };
  for (const tid of fs.readdirSync('/proc/self/task')) {
    let ns: number;
    let comm: string;
    try {
      ns = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // the thread ended meanwhile
    }
    if (Number(tid) === process.pid) {
      out.js += ns;
      try {
        const st = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
        out.jsUser += Number(f[11]) * TICK_NS;
        out.jsSystem += Number(f[12]) * TICK_NS;
      } catch {
        /* keep 0 */
      }
    }
    else if (comm === 'mb-poller') out.poller += ns;
    else out.other += ns;
  }
  return out;
}

export function threadCpuDelta(a: ThreadCpu, b: ThreadCpu): ThreadCpu {
  return { js: b.js - a.js, poller: b.poller - a.poller, other: b.other - a.other, jsUser: b.jsUser - a.jsUser, jsSystem: b.jsSystem - a.jsSystem };
}
