import { describe, expect, it } from 'vitest';
import { backlogNs, bwLimitStatistics, decodeLimitState, LIMIT_STATE_OFFSETS, LIMIT_STATE_SIZE, type LimitState } from '../../src/core/limit-state';
import { defaultHorizonNs } from '../../src/host/qdisc';

const state = (over: Partial<LimitState>): LimitState => ({ tLastNs: 0n, packets: 0, bytes: 0, delayed: 0, delayNs: 0, drops: 0, dropBytes: 0, ...over });

describe('decodeLimitState', () => {
  it('reads every field after the spin lock', () => {
    const buf = new ArrayBuffer(LIMIT_STATE_SIZE);
    const v = new DataView(buf);
    v.setUint32(0, 0xdeadbeef, true); // the lock word is not a field
    Object.values(LIMIT_STATE_OFFSETS).forEach((off, i) => v.setBigUint64(off, BigInt(1000 + i), true));
    expect(decodeLimitState(buf)).toEqual({ tLastNs: 1000n, packets: 1001, bytes: 1002, delayed: 1003, delayNs: 1004, drops: 1005, dropBytes: 1006 });
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => decodeLimitState(new ArrayBuffer(8))).toThrow(/expected 64/);
  });
});

describe('bwLimitStatistics', () => {
  it('derives backlog, queue length and rates from two readings', () => {
    const prev = { state: state({ packets: 100, bytes: 100_000 }), monoNs: 1_000_000_000n };
    const now = { state: state({ packets: 1100, bytes: 1_100_000, delayed: 900, drops: 7, tLastNs: 2_010_000_000n }), monoNs: 2_000_000_000n };
    expect(backlogNs(now)).toBe(10_000_000);
    expect(bwLimitStatistics(now, prev, 1_000_000)).toEqual({
      id: 'bw_limit',
      backlog: 10_000, // 10 ms ahead at 1 MB/s
      bytes: 1_100_000,
      drops: 7,
      overlimits: 900,
      packets: 1100,
      qlen: 10, // 10,000 bytes of 1000-byte packets
      ratebps: 1_000_000,
      ratepps: 1000,
      requeues: 0,
    });
  });

  it('reports no backlog when the last departure is past, and no rate without a previous reading', () => {
    const s = bwLimitStatistics({ state: state({ packets: 5, bytes: 5000, tLastNs: 10n }), monoNs: 20n }, undefined, 1e6);
    expect(s.backlog).toBe(0);
    expect(s.qlen).toBe(0);
    expect(s.ratebps).toBe(0);
  });
});

describe('defaultHorizonNs', () => {
  it('fq bounds the queue at 2 s; policing allows 200 ms or four 64 KiB packets', () => {
    expect(defaultHorizonNs('fq', 1e6)).toBe(2e9);
    expect(defaultHorizonNs('police', 125e6)).toBe(200e6); // 1 Gbit/s
    expect(defaultHorizonNs('police', 1e6)).toBeCloseTo((4 * 65536 * 1e9) / 1e6); // slow: GSO packets dominate
  });
});
