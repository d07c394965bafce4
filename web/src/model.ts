// model.ts - what the dashboard knows, fed by the connection: the daemon's
// containers, each one's latest summary and rate history, and its records
// over the sliding window. Views read it once per animation frame; `version`
// tells them whether anything changed since they last drew.
import type { FrameColumns } from '../../src/core/frame';
import type { ContainerSummary, ContainerView, Hello, Summary } from '../../src/core/protocol';
import { RecordWindow } from './record-window';

/** Records kept per container: the point budget (bench/dashboard.ts measures 100,000 in view). */
export const RECORD_CAP = 200_000;
/** Summaries kept per container: 10 minutes at one a second. */
const HISTORY = 600;

export const WINDOWS_S = [30, 60, 120, 300, 600] as const;

export interface RateHistory {
  x: number[]; // epoch s
  egressPps: number[];
  ingressPps: number[];
  egressBps: number[];
  ingressBps: number[];
  achievedBps: Array<number | null>;
  limitBps: Array<number | null>;
}

const emptyHistory = (): RateHistory => ({ x: [], egressPps: [], ingressPps: [], egressBps: [], ingressBps: [], achievedBps: [], limitBps: [] });

export class Model {
  containers: ContainerView[] = [];
  hello: Hello | undefined;
  summary: Summary | undefined;
  readonly summaries = new Map<number, ContainerSummary>();
  readonly history = new Map<number, RateHistory>();
  readonly windows = new Map<number, RecordWindow>();
  /** server clock minus ours, ms */
  clockOffsetMs = 0;
  windowS = 60;
  /** bumped whenever records arrive or age out */
  version = 0;
  /** bumped when containers or summaries change */
  metaVersion = 0;

  nowS(): number {
    return (Date.now() + this.clockOffsetMs) / 1000;
  }

  onHello(h: Hello): void {
    this.hello = h;
    this.clockOffsetMs = h.serverTimeMs - Date.now();
    this.setContainers(h.containers);
  }

  setContainers(list: ContainerView[]): void {
    this.containers = list;
    this.metaVersion++;
  }

  onSummary(s: Summary): void {
    this.summary = s;
    this.clockOffsetMs = s.serverTimeMs - Date.now();
    const x = s.serverTimeMs / 1000;
    for (const c of s.containers) {
      this.summaries.set(c.netns, c);
      let h = this.history.get(c.netns);
      if (!h) this.history.set(c.netns, (h = emptyHistory()));
      h.x.push(x);
      h.egressPps.push(c.directions.egress.pps);
      h.ingressPps.push(c.directions.ingress.pps);
      h.egressBps.push(c.directions.egress.bps);
      h.ingressBps.push(c.directions.ingress.bps);
      h.achievedBps.push(c.limit ? c.limit.achieved_bytes_per_sec : null);
      h.limitBps.push(c.limit ? c.limit.rate_bytes_per_sec : null);
      if (h.x.length > HISTORY) for (const a of Object.values(h)) a.shift();
    }
    this.metaVersion++;
  }

  window(netns: number): RecordWindow {
    let w = this.windows.get(netns);
    if (!w) this.windows.set(netns, (w = new RecordWindow(RECORD_CAP)));
    return w;
  }

  /** Adds a decoded frame's records to their containers' windows. */
  onFrame(f: FrameColumns): void {
    if (!f.length) return;
    const baseS = Number(f.baseNs / 1000n) / 1e6;
    let last = -1;
    let w: RecordWindow | undefined;
    for (let i = 0; i < f.length; i++) {
      const ns = f.netns[i];
      if (ns !== last) {
        w = this.window(ns);
        last = ns;
      }
      w!.push(baseS + f.t[i] / 1e9, f.dir[i], f.total[i], f.stack[i], f.virt[i]);
    }
    this.version++;
  }

  /** Ages records out of every window. */
  slide(): void {
    const xMin = this.nowS() - this.windowS;
    for (const w of this.windows.values()) {
      const before = w.length;
      w.evictBefore(xMin);
      if (w.length !== before) this.version++;
    }
  }

  byLabel(label: string): ContainerView | undefined {
    return this.containers.find((c) => c.label === label);
  }
}
