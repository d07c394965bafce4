// The EDT program under BPF_PROG_TEST_RUN: departure times, horizon drops,
// run-time rate changes, unlimited containers. It runs inside throwaway
// namespaces (the kernel runs a test on the caller's loopback), with the
// program attached to their lo, so nothing outside them changes. Root only.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveNetns, type NetnsRef } from '../../src/host/netns';
import { Tracer } from '../../src/host/tracer';
import { isRoot, skipUnlessRoot } from '../support/root';

const FRAME = 1000; // bytes on the wire per test packet
const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;

function frame(): ArrayBuffer {
  const buf = new ArrayBuffer(FRAME);
  const v = new DataView(buf);
  v.setUint16(12, 0x0800); // IPv4
  v.setUint8(14, 0x45);
  v.setUint16(16, FRAME - 14);
  v.setUint8(23, 17); // UDP
  return buf;
}

describe.skipIf(skipUnlessRoot)('EDT program (BPF_PROG_TEST_RUN)', () => {
  const names = [`mbedt-${randomBytes(3).toString('hex')}`, `mbedt-${randomBytes(3).toString('hex')}`];
  let limited: NetnsRef;
  let other: NetnsRef;
  let session: Tracer;

  beforeAll(() => {
    if (!isRoot) throw new Error('EDT tests need root (CI=true: they must run, not skip)');
    for (const n of names) execFileSync('ip', ['netns', 'add', n]);
    [limited, other] = names.map((n) => resolveNetns(n));
    session = new Tracer({ tracing: false });
  });

  afterAll(async () => {
    await session?.close();
    for (const n of names) execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
  });

  const run = (ns: NetnsRef): { verdict: number; tstamp: bigint } => session.edtTestRun(frame(), ns);

  it('spaces successive departure times by len/rate and counts them', () => {
    // bytes/s: 1000 bytes every 20 ms, far slower than test runs arrive even
    // under software emulation (qemu TCG: ~4 ms apart), so every run queues.
    const rate = 50_000;
    session.limit(limited, 'lo', rate, 1e9, true);
    const out = Array.from({ length: 20 }, () => run(limited));
    expect(out.every((o) => o.verdict === TC_ACT_OK)).toBe(true);
    for (let i = 1; i < out.length; i++) expect(out[i].tstamp - out[i - 1].tstamp).toBe(BigInt((FRAME * 1e9) / rate));
    const st = session.limitState(limited.inode);
    expect(st.packets).toBe(20);
    expect(st.bytes).toBe(20 * FRAME);
    expect(st.delayed).toBeGreaterThanOrEqual(19);
    expect(st.tLastNs).toBe(out[19].tstamp);
    session.unlimit(limited.inode); // its 400 ms queue would shorten the next test's horizon
  });

  it('drops and counts packets beyond the horizon', () => {
    // 10,000 B/s: one 1000-byte packet per 100 ms; a 1 s horizon holds 10
    // (9 if a queue were left over: the test before removes its limit).
    session.limit(limited, 'lo', 10_000, 1e9, true);
    const before = session.limitState(limited.inode);
    const out = Array.from({ length: 20 }, () => run(limited));
    const dropped = out.filter((o) => o.verdict === TC_ACT_SHOT).length;
    const passed = out.filter((o) => o.verdict === TC_ACT_OK).length;
    expect(passed).toBeGreaterThanOrEqual(9);
    expect(passed).toBeLessThanOrEqual(10);
    expect(dropped).toBe(20 - passed);
    expect(out.findIndex((o) => o.verdict === TC_ACT_SHOT)).toBe(passed); // drops only once the horizon is full
    const after = session.limitState(limited.inode);
    expect(after.drops - before.drops).toBe(dropped);
    expect(after.dropBytes - before.dropBytes).toBe(dropped * FRAME);
    expect(after.packets - before.packets).toBe(passed);
  });

  it('applies a rate change to the next packet, without re-attaching', () => {
    session.limit(limited, 'lo', 4_000_000, 10e9, true);
    const a = run(limited);
    const b = run(limited);
    expect(b.tstamp - a.tstamp).toBe(BigInt((FRAME * 1e9) / 4_000_000));
    session.limit(limited, 'lo', 500_000, 10e9, true);
    const c = run(limited);
    expect(c.tstamp - b.tstamp).toBe(BigInt((FRAME * 1e9) / 500_000));
  });

  it('in policing mode stamps nothing and drops as a wire would', () => {
    session.limit(limited, 'lo', 1_000_000, 2e6, false);
    const out = Array.from({ length: 30 }, () => run(limited));
    expect(out.every((o) => o.tstamp === 0n)).toBe(true);
    expect(out.some((o) => o.verdict === TC_ACT_REDIRECT)).toBe(true); // redirected to no device: freed, reported sent
  });

  it('leaves an unlimited container untouched', () => {
    const out = Array.from({ length: 5 }, () => run(other));
    expect(out.every((o) => o.verdict === TC_ACT_OK && o.tstamp === 0n)).toBe(true);
    session.unlimit(limited.inode);
    const after = run(limited);
    expect(after).toEqual({ verdict: TC_ACT_OK, tstamp: 0n });
  });
});
