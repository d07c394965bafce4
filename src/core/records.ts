// records.ts - decode ring-buffer batches of struct mb_event (bpf/macebpf.h)
// into columns. Offsets are written here once; test/unit/layout.test.ts holds
// them to the C header through the addon's offsetof() table.

export const EVENT_SIZE = 40;
export const EVENT_OFFSETS = {
  ts_ns: 0,
  netns: 8,
  total_ns: 12,
  stack_ns: 16,
  virt_ns: 20,
  packet_id: 24,
  container: 28,
  dir: 30,
  proto: 31,
  family: 32,
  stages: 33,
} as const;

/** MB_ABSENT: a latency part that was not observed. */
export const ABSENT = 0xffffffff;

export const EGRESS = 0;
export const INGRESS = 1;
export type Direction = 'egress' | 'ingress';
export const DIRECTIONS: readonly Direction[] = ['egress', 'ingress'];

export const PROTOCOLS: Readonly<Record<number, string>> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmp6' };

/** Columnar batch; stack/virt are NaN where the part was not observed. */
export interface RecordColumns {
  length: number;
  /** CLOCK_MONOTONIC ns at the first observed stage, as a double: exact for
   * 104 days of uptime (2^53 ns), within 4 ns for a year. No BigInt per record. */
  tsNs: Float64Array;
  netns: Uint32Array;
  totalNs: Float64Array;
  stackNs: Float64Array;
  virtNs: Float64Array;
  packetId: Uint32Array;
  container: Uint16Array;
  dir: Uint8Array;
  proto: Uint8Array;
  family: Uint8Array;
  stages: Uint8Array;
}

const U32_PER_EVENT = EVENT_SIZE / 4;

/** Decodes with typed-array views over the batch (records are 8-byte aligned). */
export function decodeRecords(batch: ArrayBuffer): RecordColumns {
  if (batch.byteLength % EVENT_SIZE !== 0) {
    throw new Error(`record batch of ${batch.byteLength} bytes is not a multiple of ${EVENT_SIZE}: addon and decoder disagree, rebuild with npm install`);
  }
  const n = batch.byteLength / EVENT_SIZE;
  const u32 = new Uint32Array(batch);
  const u16 = new Uint16Array(batch);
  const u8 = new Uint8Array(batch);
  const cols: RecordColumns = {
    length: n,
    tsNs: new Float64Array(n),
    netns: new Uint32Array(n),
    totalNs: new Float64Array(n),
    stackNs: new Float64Array(n),
    virtNs: new Float64Array(n),
    packetId: new Uint32Array(n),
    container: new Uint16Array(n),
    dir: new Uint8Array(n),
    proto: new Uint8Array(n),
    family: new Uint8Array(n),
    stages: new Uint8Array(n),
  };
  const o = EVENT_OFFSETS;
  for (let i = 0, w = 0, b = 0; i < n; i++, w += U32_PER_EVENT, b += EVENT_SIZE) {
    cols.tsNs[i] = u32[w + o.ts_ns / 4] + u32[w + o.ts_ns / 4 + 1] * 4294967296;
    cols.netns[i] = u32[w + o.netns / 4];
    cols.totalNs[i] = u32[w + o.total_ns / 4];
    const stack = u32[w + o.stack_ns / 4];
    const virt = u32[w + o.virt_ns / 4];
    cols.stackNs[i] = stack === ABSENT ? NaN : stack;
    cols.virtNs[i] = virt === ABSENT ? NaN : virt;
    cols.packetId[i] = u32[w + o.packet_id / 4];
    cols.container[i] = u16[(b + o.container) / 2];
    cols.dir[i] = u8[b + o.dir];
    cols.proto[i] = u8[b + o.proto];
    cols.family[i] = u8[b + o.family];
    cols.stages[i] = u8[b + o.stages];
  }
  return cols;
}

/** The protocol's name for CSV, labels and the dashboard. */
export function protocolName(proto: number): string {
  return PROTOCOLS[proto] ?? String(proto);
}
