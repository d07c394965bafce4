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
  tsNs: BigUint64Array; // CLOCK_MONOTONIC at the first observed stage
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

export function decodeRecords(batch: ArrayBuffer): RecordColumns {
  if (batch.byteLength % EVENT_SIZE !== 0) {
    throw new Error(`record batch of ${batch.byteLength} bytes is not a multiple of ${EVENT_SIZE}: addon and decoder disagree, rebuild with npm install`);
  }
  const n = batch.byteLength / EVENT_SIZE;
  const v = new DataView(batch);
  const cols: RecordColumns = {
    length: n,
    tsNs: new BigUint64Array(n),
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
  const part = (x: number): number => (x === ABSENT ? NaN : x);
  const o = EVENT_OFFSETS;
  for (let i = 0, b = 0; i < n; i++, b += EVENT_SIZE) {
    cols.tsNs[i] = v.getBigUint64(b + o.ts_ns, true);
    cols.netns[i] = v.getUint32(b + o.netns, true);
    cols.totalNs[i] = v.getUint32(b + o.total_ns, true);
    cols.stackNs[i] = part(v.getUint32(b + o.stack_ns, true));
    cols.virtNs[i] = part(v.getUint32(b + o.virt_ns, true));
    cols.packetId[i] = v.getUint32(b + o.packet_id, true);
    cols.container[i] = v.getUint16(b + o.container, true);
    cols.dir[i] = v.getUint8(b + o.dir);
    cols.proto[i] = v.getUint8(b + o.proto);
    cols.family[i] = v.getUint8(b + o.family);
    cols.stages[i] = v.getUint8(b + o.stages);
  }
  return cols;
}
