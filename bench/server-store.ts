// server-store.ts - memory of the daemon's record store (bench/server.ts):
// a RecordStore of one container holding `capacity` records per direction,
// filled through ingest() as the tracer fills it. Runs in a fresh child with
// --expose-gc so the heap delta is this store's alone; prints one JSON line
// (a StoreMemory).
//
//   node --expose-gc dist/bench/server-store.js [CAPACITY]
import { BUCKET_COUNT } from '../src/core/latency-buckets';
import { RING_ENTRY_BYTES } from '../src/core/latency-ring';
import { DEFAULT_WINDOW_S, RecordStore } from '../src/core/store';
import type { RecordColumns } from '../src/core/records';

export interface StoreMemory {
  capacity: number;
  containers: number;
  /** records held: capacity × 2 directions × containers */
  recordsHeld: number;
  /** records pushed (twice the capacity, so every ring has wrapped) */
  recordsIngested: number;
  /** heapUsed + external after − before, with gc() before each reading */
  measuredBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  rssBytes: number;
  /** rings: records held × RING_ENTRY_BYTES */
  computedRingBytes: number;
  /** per direction: run + window slots + merge scratch histograms, Prometheus buckets of one protocol */
  computedHistogramBytes: number;
  computedBytes: number;
  measuredBytesPerRecord: number;
  computedBytesPerRecord: number;
  gcExposed: boolean;
}

/** LatencyHistogram: 1024 Float64 buckets (src/core/histogram.ts). */
const HISTOGRAM_BYTES = 1024 * 8;
const BATCH = 64; // the tracer's default wake-up batch

function batch(n: number, firstTs: number, stepNs: number, container: number): RecordColumns {
  const cols: RecordColumns = {
    length: n,
    tsNs: new Float64Array(n),
    netns: new Uint32Array(n).fill(4026532000),
    totalNs: new Float64Array(n),
    stackNs: new Float64Array(n),
    virtNs: new Float64Array(n),
    packetId: new Uint32Array(n),
    container: new Uint16Array(n).fill(container),
    dir: new Uint8Array(n),
    proto: new Uint8Array(n).fill(1),
    family: new Uint8Array(n).fill(4),
    stages: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    cols.tsNs[i] = firstTs + i * stepNs;
    cols.dir[i] = i & 1; // egress and ingress alternate, as a ping flood's
    cols.totalNs[i] = 20_000 + ((i * 7919) % 30_000); // 20-50 µs: spreads over many histogram buckets
    cols.stackNs[i] = 5_000 + (i % 1000);
    cols.virtNs[i] = 3_000 + (i % 500);
    cols.packetId[i] = i >> 1;
  }
  return cols;
}

function gc(): boolean {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) return false;
  g();
  g(); // a second pass collects what the first one's finalizers released
  return true;
}

const used = (m: NodeJS.MemoryUsage): number => m.heapUsed + m.external;

function measure(capacity: number): StoreMemory {
  const containers = 1;
  const gcExposed = gc();
  const before = process.memoryUsage();
  const store = new RecordStore({ ringCapacity: capacity, windowS: DEFAULT_WINDOW_S, baseNs: 1_700_000_000_000_000_000n });
  store.attach({ label: 'c1', netns: 4026532000, spec: 'c1' }, 1);
  // Twice the capacity at 150,000 records/s (the lab's highest rate), so
  // every ring has wrapped and the window's slots have all been used.
  const ingested = 2 * capacity * 2 * containers;
  const stepNs = 1e9 / 150_000;
  let ts = 1e12;
  for (let done = 0; done < ingested; done += BATCH) {
    const n = Math.min(BATCH, ingested - done);
    store.ingest(batch(n, ts, stepNs, 1), 0);
    ts += n * stepNs;
  }
  gc();
  const after = process.memoryUsage();
  const held = store.containers.reduce((s, c) => s + c.series.egress.ring.size + c.series.ingress.ring.size, 0);
  const perDirectionHistograms = (1 + DEFAULT_WINDOW_S + 1) * HISTOGRAM_BYTES + 3 * (BUCKET_COUNT + 1) * 8 + DEFAULT_WINDOW_S * 8;
  const computedRingBytes = held * RING_ENTRY_BYTES;
  const computedHistogramBytes = perDirectionHistograms * 2 * containers;
  const measuredBytes = used(after) - used(before);
  return {
    capacity,
    containers,
    recordsHeld: held,
    recordsIngested: ingested,
    measuredBytes,
    heapUsedBytes: after.heapUsed - before.heapUsed,
    externalBytes: after.external - before.external,
    rssBytes: after.rss - before.rss,
    computedRingBytes,
    computedHistogramBytes,
    computedBytes: computedRingBytes + computedHistogramBytes,
    measuredBytesPerRecord: measuredBytes / held,
    computedBytesPerRecord: (computedRingBytes + computedHistogramBytes) / held,
    gcExposed,
  };
}

const capacity = Number(process.argv[2] ?? 100_000);
if (!Number.isSafeInteger(capacity) || capacity < 1) throw new Error(`capacity must be a positive integer, got ${process.argv[2]}`);
process.stdout.write(`${JSON.stringify(measure(capacity))}\n`);
