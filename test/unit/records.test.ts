import { describe, expect, it } from 'vitest';
import { coverage, decodeCounters, COUNTERS_SIZE, DIR_COUNTER_FIELDS } from '../../src/core/counters';
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
