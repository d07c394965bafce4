import { describe, expect, it } from 'vitest';
import { BUCKET_BOUNDS_S, LatencyBuckets } from '../../src/core/latency-buckets';
import type { RecordColumns } from '../../src/core/records';
import { RecordStore, RETAINED_UNTRACED } from '../../src/core/store';
import { WindowHistogram } from '../../src/core/window-histogram';

function batch(rows: { ts: number; container: number; dir: number; total: number; stack?: number; virt?: number; proto?: number; id?: number }[]): RecordColumns {
  const n = rows.length;
  const f64 = (get: (r: (typeof rows)[number]) => number): Float64Array => Float64Array.from(rows, get);
  return {
    length: n,
    tsNs: f64((r) => r.ts),
    netns: Uint32Array.from(rows, (r) => 1000 + r.container),
    totalNs: f64((r) => r.total),
    stackNs: f64((r) => r.stack ?? NaN),
    virtNs: f64((r) => r.virt ?? NaN),
    packetId: Uint32Array.from(rows, (r) => r.id ?? 0),
    container: Uint16Array.from(rows, (r) => r.container),
    dir: Uint8Array.from(rows, (r) => r.dir),
    proto: Uint8Array.from(rows, (r) => r.proto ?? 1),
    family: new Uint8Array(n).fill(4),
    stages: new Uint8Array(n).fill(7),
  };
}

describe('RecordStore', () => {
  it('files records by kernel index and direction, with store times t = ts + delta', () => {
    const s = new RecordStore({ baseNs: 10n ** 18n, ringCapacity: 8 });
    s.attach({ label: 'a', netns: 1001, spec: 'a' }, 1);
    s.attach({ label: 'b', netns: 1002, spec: 'b' }, 2);
    const t = s.ingest(batch([
      { ts: 5e9, container: 1, dir: 0, total: 100, stack: 40, virt: 60, id: 7 },
      { ts: 6e9, container: 2, dir: 1, total: 200 },
      { ts: 7e9, container: 9, dir: 0, total: 300 }, // not traced
    ]), -4e9);
    expect([...t]).toEqual([1e9, 2e9, 3e9]);
    expect(s.orphans).toBe(1);
    const a = s.find('a')!;
    expect(a.series.egress.ring.size).toBe(1);
    expect(a.series.ingress.ring.size).toBe(0);
    const snap = a.series.egress.ring.snapshot();
    expect([snap.t[0], snap.total[0], snap.stack[0], snap.virt[0], snap.packetId[0], snap.proto[0]]).toEqual([1e9, 100, 40, 60, 7, 1]);
    expect(s.find('b')!.series.ingress.run.count).toBe(1);
    expect(s.find('1002')).toBe(s.find('b')); // by netns inode too
  });

  it('keeps a container\'s records across untrace and re-trace, and labels unique', () => {
    const s = new RecordStore({ baseNs: 0n });
    const a = s.attach({ label: 'x', netns: 1, spec: 'x' }, 1);
    s.ingest(batch([{ ts: 1, container: 1, dir: 0, total: 5 }]), 0);
    s.detach(1);
    expect(a.traced).toBe(false);
    s.ingest(batch([{ ts: 2, container: 1, dir: 0, total: 5 }]), 0); // in flight after untrace
    expect(a.series.egress.ring.size).toBe(1);
    expect(s.attach({ label: 'x', netns: 1, spec: 'x' }, 3)).toBe(a);
    expect(s.attach({ label: 'x', netns: 2, spec: 'y' }, 4).label).toBe('x@2');
  });

  it(`keeps at most ${RETAINED_UNTRACED} untraced containers`, () => {
    const s = new RecordStore({ baseNs: 0n, ringCapacity: 1 });
    for (let i = 1; i <= RETAINED_UNTRACED + 3; i++) {
      s.attach({ label: `c${i}`, netns: i, spec: `c${i}` }, 1);
      s.detach(i);
    }
    expect(s.containers.length).toBe(RETAINED_UNTRACED);
    expect(s.find('c1')).toBeUndefined();
    expect(s.find(`c${RETAINED_UNTRACED + 3}`)).toBeDefined();
  });

  it('fills Prometheus buckets per protocol and part; unobserved parts are not counted', () => {
    const s = new RecordStore({ baseNs: 0n });
    s.attach({ label: 'a', netns: 1, spec: 'a' }, 1);
    s.ingest(batch([
      { ts: 1, container: 1, dir: 0, total: 1500, stack: 500, proto: 6 },
      { ts: 2, container: 1, dir: 0, total: 3000, proto: 6 },
      { ts: 3, container: 1, dir: 0, total: 3000, proto: 17 },
    ]), 0);
    const tcp = s.find('a')!.series.egress.buckets.get(6)!;
    expect(tcp.total.count).toBe(2);
    expect(tcp.stack.count).toBe(1);
    expect(tcp.virt.count).toBe(0);
    expect(s.find('a')!.series.egress.buckets.get(17)!.total.count).toBe(1);
  });

  it('maps wall-clock ms to store time exactly enough to select by since', () => {
    const s = new RecordStore({ baseNs: 1795351972529193590n });
    expect(s.tOfWallMs(1795351972529 + 1000)).toBeCloseTo(1e9 - 193590, 0);
  });
});

describe('LatencyBuckets', () => {
  it('puts each value in the smallest bucket 1µs·2^k that holds it; cumulative counts end at count', () => {
    const b = new LatencyBuckets();
    for (const ns of [0, 1000, 1001, 2000, 2001, 4000, 1e12]) b.record(ns);
    const cum = b.cumulative();
    expect(BUCKET_BOUNDS_S[0]).toBeCloseTo(1e-6);
    expect(cum[0]).toBe(2); // 0, 1000 ≤ 1 µs
    expect(cum[1]).toBe(4); // 1001, 2000 ≤ 2 µs
    expect(cum[2]).toBe(6); // 2001, 4000 ≤ 4 µs
    expect(cum.at(-2)).toBe(6); // 1000 s is beyond 33.5 s
    expect(cum.at(-1)).toBe(7);
    expect(b.sumNs).toBe(0 + 1000 + 1001 + 2000 + 2001 + 4000 + 1e12);
  });

  it('buckets every u32 integer (the fast path) and fractions by the definition', () => {
    const expected = (ns: number): number => {
      let k = 0;
      while (k < BUCKET_BOUNDS_S.length && ns > 1000 * 2 ** k) k++;
      return k;
    };
    const values = [1, 999, 1000.5, 1999.9, 2000.0001, 4095.5, 2 ** 32 - 1, 33.554432e9, 33.554432e9 + 1];
    for (let k = 0; k < 26; k++) values.push(1000 * 2 ** k - 1, 1000 * 2 ** k, 1000 * 2 ** k + 1);
    for (let i = 0; i < 2000; i++) values.push(Math.floor(2 ** (Math.random() * 32)));
    for (const ns of values) {
      const b = new LatencyBuckets();
      b.record(ns);
      expect([ns, b.counts.indexOf(1)]).toEqual([ns, expected(ns)]);
    }
  });
});

describe('WindowHistogram', () => {
  it('counts only the last windowS seconds and ignores records older than the window', () => {
    const w = new WindowHistogram(3);
    w.record(0.5e9, 10);
    w.record(1.5e9, 20);
    w.record(2.5e9, 30);
    expect(w.window(2.9e9).count).toBe(3);
    w.record(3.5e9, 40); // second 3 reuses the slot of second 0
    expect(w.window(3.9e9).count).toBe(3);
    expect(w.window(3.9e9).min).toBe(20);
    w.record(0.2e9, 99); // late: older than the slot's current second
    expect(w.window(3.9e9).max).toBe(40);
    expect(w.window(10e9).count).toBe(0);
  });

  it('rejects a bad window', () => {
    expect(() => new WindowHistogram(0)).toThrow(/from 1 to 3600/);
  });
});
