import { describe, expect, it } from 'vitest';
import { LatencyRing, type LatencyColumns } from '../../src/core/latency-ring';

type Row = [number, number, number, number];

function rows(c: LatencyColumns): Row[] {
  return Array.from(c.ts, (ts, i) => [ts, c.total[i], c.stack[i], c.virt[i]] as Row);
}

function row(i: number): Row {
  // NaN parts alternate so that "not observed" survives the ring too.
  return [1000 + i, i * 10, i % 3 === 0 ? NaN : i, i % 5 === 0 ? NaN : i * 2];
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
    r.push(1, 10, 5, 5);
    const snap = r.snapshot();
    expect(snap.ts).toBeInstanceOf(Float64Array);
    r.push(2, 20, 10, 10);
    r.push(3, 30, 15, 15);
    r.push(4, 40, 20, 20);
    expect(Array.from(snap.ts)).toEqual([1]);
    expect(Array.from(r.snapshot().ts)).toEqual([2, 3, 4]);
  });

  it('since() returns the newest entries at or after a timestamp, oldest first', () => {
    const r = new LatencyRing(5);
    for (let i = 0; i < 8; i++) r.push(...row(i)); // keeps ts 1003..1007
    expect(Array.from(r.since(1005).ts)).toEqual([1005, 1006, 1007]);
    expect(rows(r.since(1005))).toEqual([row(5), row(6), row(7)]);
    expect(Array.from(r.since(0).ts)).toEqual([1003, 1004, 1005, 1006, 1007]);
    expect(r.since(2000).ts.length).toBe(0);
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
