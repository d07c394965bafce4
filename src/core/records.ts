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
/** Flags in a record's stages (bpf/macebpf.h): S is the sender's own payload stamp (echo requests). */
export const S_FROM_SENDER = 0x80;
/** ... an ingress device stage is the kernel's receive timestamp of the packet. */
export const RX_TSTAMP = 0x40;

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
// Word and byte offsets of the fields in a record, as literals so the decode
// loop indexes with constants (held to EVENT_OFFSETS by records.test.ts).
export const W_TS_LO = 0;
export const W_TS_HI = 1;
export const W_NETNS = 2;
export const W_TOTAL = 3;
export const W_STACK = 4;
export const W_VIRT = 5;
export const W_PACKET_ID = 6;
// container (u16), dir, proto share word 7; family and stages are the low
// bytes of word 8 (little-endian, as BPF on x86 and arm64 writes them).
export const W_CONTAINER_DIR_PROTO = 7;
export const W_FAMILY_STAGES = 8;

/** Bytes of decoded columns per record (all columns share one buffer). */
const COLUMN_BYTES = 4 * 8 + 2 * 4 + 2 + 4;

/**
 * Decodes with typed-array views over the batch (records are 8-byte
 * aligned). All columns are views of one new buffer: one allocation per
 * batch, not one per column, and nothing per record.
 */
export function decodeRecords(batch: ArrayBuffer): RecordColumns {
  if (batch.byteLength % EVENT_SIZE !== 0) {
    throw new Error(`record batch of ${batch.byteLength} bytes is not a multiple of ${EVENT_SIZE}: addon and decoder disagree, rebuild with npm install`);
  }
  const n = batch.byteLength / EVENT_SIZE;
  const u32 = new Uint32Array(batch);
  const buf = new ArrayBuffer(n * COLUMN_BYTES);
  // f64 columns first, then u32, u16, u8: every view stays aligned
  const tsNs = new Float64Array(buf, 0, n);
  const totalNs = new Float64Array(buf, 8 * n, n);
  const stackNs = new Float64Array(buf, 16 * n, n);
  const virtNs = new Float64Array(buf, 24 * n, n);
  const netns = new Uint32Array(buf, 32 * n, n);
  const packetId = new Uint32Array(buf, 36 * n, n);
  const container = new Uint16Array(buf, 40 * n, n);
  const dir = new Uint8Array(buf, 42 * n, n);
  const proto = new Uint8Array(buf, 43 * n, n);
  const family = new Uint8Array(buf, 44 * n, n);
  const stages = new Uint8Array(buf, 45 * n, n);
  for (let i = 0, w = 0; i < n; i++, w += U32_PER_EVENT) {
    tsNs[i] = u32[w + W_TS_LO] + u32[w + W_TS_HI] * 4294967296;
    netns[i] = u32[w + W_NETNS];
    totalNs[i] = u32[w + W_TOTAL];
    const stack = u32[w + W_STACK];
    const virt = u32[w + W_VIRT];
    stackNs[i] = stack === ABSENT ? NaN : stack;
    virtNs[i] = virt === ABSENT ? NaN : virt;
    packetId[i] = u32[w + W_PACKET_ID];
    const cdp = u32[w + W_CONTAINER_DIR_PROTO];
    container[i] = cdp; // the u16 store keeps the low half
    dir[i] = cdp >>> 16;
    proto[i] = cdp >>> 24;
    const fs = u32[w + W_FAMILY_STAGES];
    family[i] = fs;
    stages[i] = fs >>> 8;
  }
  return { length: n, tsNs, netns, totalNs, stackNs, virtNs, packetId, container, dir, proto, family, stages };
}

/** The protocol's name for CSV, labels and the dashboard. */
export function protocolName(proto: number): string {
  return PROTOCOLS[proto] ?? String(proto);
}
