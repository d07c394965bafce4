import { describe, expect, it } from 'vitest';
import { LatencyRing, type LatencyColumns } from '../../src/core/latency-ring';

type Row = [number, number, number, number, number, number];

function rows(c: LatencyColumns): Row[] {
  return Array.from(c.t, (t, i) => [t, c.total[i], c.stack[i], c.virt[i], c.packetId[i], c.proto[i]] as Row);
}

function row(i: number): Row {
  // NaN parts alternate so that "not observed" survives the ring too.
  return [1000 + i, i * 10, i % 3 === 0 ? NaN : i, i % 5 === 0 ? NaN : i * 2, i * 7, i % 2 ? 1 : 6];
}

describe('LatencyRing', () => {
  it('rejects a bad capacity with the value', () => {
    expect(() => new LatencyRing(0)).toThrow('capacity must be a positive integer, got 0');
    expect(() => new LatencyRing(1.5)).toThrow('got 1.5');
  });

  it('is empty at first', () => {
    const r = new LatencyRing(4);
    expect(r.size).toBe(0);
    expect(r.capacity).toBe(4);
    expect(rows(r.snapshot())).toEqual([]);
    expect(rows(r.since(0))).toEqual([]);
  });

  it.each([1, 2, 7, 64])('matches a plain array model at capacity %d across wrap-around', (cap) => {
    const r = new LatencyRing(cap);
    const model: Row[] = [];
    for (let i = 0; i < cap * 3 + 1; i++) {
      r.push(...row(i));
      model.push(row(i));
      if (model.length > cap) model.shift();
      expect(r.size).toBe(model.length);
      expect(rows(r.snapshot())).toEqual(model);
    }
  });

  it('returns typed-array copies that later pushes do not change', () => {
    const r = new LatencyRing(3);
    r.push(1, 10, 5, 5, 1, 1);
    const snap = r.snapshot();
    expect(snap.t).toBeInstanceOf(Float64Array);
    r.push(2, 20, 10, 10, 2, 1);
    r.push(3, 30, 15, 15, 3, 1);
    r.push(4, 40, 20, 20, 4, 1);
    expect(Array.from(snap.t)).toEqual([1]);
    expect(Array.from(r.snapshot().t)).toEqual([2, 3, 4]);
  });

  it('since() returns the newest entries at or after a timestamp, oldest first', () => {
    const r = new LatencyRing(5);
    for (let i = 0; i < 8; i++) r.push(...row(i)); // keeps ts 1003..1007
    expect(Array.from(r.since(1005).t)).toEqual([1005, 1006, 1007]);
    expect(rows(r.since(1005))).toEqual([row(5), row(6), row(7)]);
    expect(Array.from(r.since(0).t)).toEqual([1003, 1004, 1005, 1006, 1007]);
    expect(r.since(2000).t.length).toBe(0);
  });

  it('after() returns what was pushed since a cursor and counts what was overwritten', () => {
    const r = new LatencyRing(4);
    for (let i = 0; i < 3; i++) r.push(...row(i));
    const first = r.after(0);
    expect(rows(first.cols)).toEqual([row(0), row(1), row(2)]);
    expect(first.skipped).toBe(0);
    for (let i = 3; i < 9; i++) r.push(...row(i)); // 6 more into 4 slots: 2 of them overwritten
    const next = r.after(first.next);
    expect(rows(next.cols)).toEqual([row(5), row(6), row(7), row(8)]);
    expect(next.skipped).toBe(2);
    expect(r.after(next.next).cols.t.length).toBe(0);
  });

  it('clear() empties it', () => {
    const r = new LatencyRing(2);
    r.push(...row(1));
    r.clear();
    expect(r.size).toBe(0);
    r.push(...row(2));
    expect(rows(r.snapshot())).toEqual([row(2)]);
  });
});
