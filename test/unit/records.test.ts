import { describe, expect, it } from 'vitest';
import { coverage, decodeCounters, COUNTERS_SIZE, DIR_COUNTER_FIELDS } from '../../src/core/counters';
import * as R from '../../src/core/records';
import { ABSENT, EVENT_OFFSETS as O, EVENT_SIZE, decodeRecords } from '../../src/core/records';

function event(v: DataView, i: number, f: { ts: bigint; netns: number; total: number; stack: number; virt: number; id: number; container: number; dir: number; proto: number; family: number; stages: number }): void {
  const b = i * EVENT_SIZE;
  v.setBigUint64(b + O.ts_ns, f.ts, true);
  v.setUint32(b + O.netns, f.netns, true);
  v.setUint32(b + O.total_ns, f.total, true);
  v.setUint32(b + O.stack_ns, f.stack, true);
  v.setUint32(b + O.virt_ns, f.virt, true);
  v.setUint32(b + O.packet_id, f.id, true);
  v.setUint16(b + O.container, f.container, true);
  v.setUint8(b + O.dir, f.dir);
  v.setUint8(b + O.proto, f.proto);
  v.setUint8(b + O.family, f.family);
  v.setUint8(b + O.stages, f.stages);
}

describe('decodeRecords', () => {
  it('decodes a batch into columns, absent parts as NaN', () => {
    const buf = new ArrayBuffer(2 * EVENT_SIZE);
    const v = new DataView(buf);
    event(v, 0, { ts: 123456789012345n, netns: 4026532000, total: 70000, stack: 30000, virt: 40000, id: 7, container: 1, dir: 0, proto: 1, family: 4, stages: 7 });
    event(v, 1, { ts: 2n ** 63n + 5n, netns: 1, total: 0xfffffffe, stack: ABSENT, virt: 9, id: 0xffffffff, container: 255, dir: 1, proto: 6, family: 6, stages: 6 });
    const c = decodeRecords(buf);
    expect(c.length).toBe(2);
    expect(c.tsNs[0]).toBe(123456789012345);
    expect(c.tsNs[1]).toBe(2 ** 63); // beyond 2^53 ns (104 days of uptime) within double precision
    expect([...c.netns]).toEqual([4026532000, 1]);
    expect([...c.totalNs]).toEqual([70000, 0xfffffffe]);
    expect(c.stackNs[0]).toBe(30000);
    expect(Number.isNaN(c.stackNs[1])).toBe(true);
    expect([...c.virtNs]).toEqual([40000, 9]);
    expect([...c.packetId]).toEqual([7, 0xffffffff]);
    expect([...c.container]).toEqual([1, 255]);
    expect([...c.dir]).toEqual([0, 1]);
    expect([...c.proto]).toEqual([1, 6]);
    expect([...c.family]).toEqual([4, 6]);
    expect([...c.stages]).toEqual([7, 6]);
  });

  it('rejects a batch that is not whole records', () => {
    expect(() => decodeRecords(new ArrayBuffer(EVENT_SIZE + 3))).toThrow(/not a multiple of 40/);
  });

  it("indexes the decode loop's words and bytes at the fields' offsets", () => {
    expect([R.W_TS_LO * 4, R.W_NETNS * 4, R.W_TOTAL * 4, R.W_STACK * 4, R.W_VIRT * 4, R.W_PACKET_ID * 4]).toEqual([
      O.ts_ns, O.netns, O.total_ns, O.stack_ns, O.virt_ns, O.packet_id,
    ]);
    expect(R.W_TS_HI).toBe(R.W_TS_LO + 1);
    // shifts in the loop: container bits 0-15, dir 16-23, proto 24-31; family 0-7, stages 8-15
    expect([O.container, O.dir, O.proto]).toEqual([R.W_CONTAINER_DIR_PROTO * 4, R.W_CONTAINER_DIR_PROTO * 4 + 2, R.W_CONTAINER_DIR_PROTO * 4 + 3]);
    expect([O.family, O.stages]).toEqual([R.W_FAMILY_STAGES * 4, R.W_FAMILY_STAGES * 4 + 1]);
  });

  it('gives every column its own range of the batch buffer', () => {
    const n = 3;
    const buf = new ArrayBuffer(n * EVENT_SIZE);
    const v = new DataView(buf);
    for (let i = 0; i < n; i++) event(v, i, { ts: BigInt(1e12 + i), netns: 10 + i, total: 100 + i, stack: 200 + i, virt: 300 + i, id: 400 + i, container: 500 + i, dir: i & 1, proto: 17, family: 4, stages: 7 });
    const c = decodeRecords(buf);
    const cols = [c.tsNs, c.totalNs, c.stackNs, c.virtNs, c.netns, c.packetId, c.container, c.dir, c.proto, c.family, c.stages];
    const ranges = cols.map((a) => [a.byteOffset, a.byteOffset + a.byteLength] as const).sort((a, b) => a[0] - b[0]);
    for (let k = 1; k < ranges.length; k++) expect(ranges[k]![0]).toBeGreaterThanOrEqual(ranges[k - 1]![1]);
    expect([...c.tsNs]).toEqual([1e12, 1e12 + 1, 1e12 + 2]);
    expect([...c.container]).toEqual([500, 501, 502]);
    expect([...c.stages]).toEqual([7, 7, 7]);
  });

  it('decodes an empty batch', () => {
    expect(decodeRecords(new ArrayBuffer(0)).length).toBe(0);
  });
});

describe('decodeCounters', () => {
  it('splits the u64s into egress and ingress by field', () => {
    const buf = new ArrayBuffer(COUNTERS_SIZE);
    const u = new BigUint64Array(buf);
    u.forEach((_, i) => (u[i] = BigInt(100 + i)));
    const c = decodeCounters(buf);
    DIR_COUNTER_FIELDS.forEach((f, i) => {
      expect(c.egress[f]).toBe(100 + i);
      expect(c.ingress[f]).toBe(100 + DIR_COUNTER_FIELDS.length + i);
    });
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => decodeCounters(new ArrayBuffer(8))).toThrow(/expected 128/);
  });

  it('coverage is records per packet, NaN before any packet', () => {
    const zero = decodeCounters(new ArrayBuffer(COUNTERS_SIZE)).egress;
    expect(Number.isNaN(coverage(zero))).toBe(true);
    expect(coverage({ ...zero, packets: 200, events: 199 })).toBeCloseTo(0.995);
  });
});
