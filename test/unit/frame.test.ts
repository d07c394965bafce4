import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, FRAME_HEADER_BYTES, FRAME_MAGIC, frameBytes } from '../../src/core/frame';
import { ABSENT, type RecordColumns } from '../../src/core/records';

function columns(n: number): RecordColumns {
  const c: RecordColumns = {
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
  for (let i = 0; i < n; i++) {
    c.netns[i] = 4026532000 + (i % 3);
    c.totalNs[i] = 1000 * (i + 1);
    c.stackNs[i] = i % 4 === 0 ? NaN : 400 * (i + 1);
    c.virtNs[i] = i % 5 === 0 ? NaN : 600 * (i + 1);
    c.packetId[i] = 0xfffffff0 + i;
    c.dir[i] = i % 2;
    c.proto[i] = [1, 6, 17, 58][i % 4];
  }
  return c;
}

describe('record frames', () => {
  it('round-trips every column, absent parts as 0xffffffff, and the 64-bit base', () => {
    const cols = columns(7);
    const t = Float64Array.from({ length: 7 }, (_, i) => 2 ** 52 + i); // exact doubles past 2^32
    const base = 1795351972529193590n;
    const buf = encodeFrame(cols, t, base);
    expect(buf.byteLength).toBe(frameBytes(7));
    expect(buf.byteLength % 8).toBe(0);
    const f = decodeFrame(buf);
    expect(f.baseNs).toBe(base);
    expect(f.length).toBe(7);
    expect([...f.t]).toEqual([...t]);
    expect([...f.total]).toEqual([...cols.totalNs]);
    expect([...f.stack]).toEqual([...cols.stackNs].map((x) => (Number.isNaN(x) ? ABSENT : x)));
    expect([...f.virt]).toEqual([...cols.virtNs].map((x) => (Number.isNaN(x) ? ABSENT : x)));
    expect([...f.packetId]).toEqual([...cols.packetId]);
    expect([...f.netns]).toEqual([...cols.netns]);
    expect([...f.dir]).toEqual([...cols.dir]);
    expect([...f.proto]).toEqual([...cols.proto]);
  });

  it('encodes only the selected records, in the given order', () => {
    const cols = columns(6);
    const t = Float64Array.from({ length: 6 }, (_, i) => i * 10);
    const f = decodeFrame(encodeFrame(cols, t, 0n, [4, 1]));
    expect(f.length).toBe(2);
    expect([...f.t]).toEqual([40, 10]);
    expect([...f.packetId]).toEqual([cols.packetId[4], cols.packetId[1]]);
  });

  it('decodes from an unaligned Buffer view (as ws hands it to Node clients)', () => {
    const buf = encodeFrame(columns(3), new Float64Array([1, 2, 3]), 5n);
    const backing = new Uint8Array(buf.byteLength + 3);
    backing.set(new Uint8Array(buf), 3);
    const f = decodeFrame(new Uint8Array(backing.buffer, 3, buf.byteLength));
    expect([...f.t]).toEqual([1, 2, 3]);
    expect(f.baseNs).toBe(5n);
  });

  it('an empty frame is just the header', () => {
    const f = decodeFrame(encodeFrame(columns(0), new Float64Array(0), 1n));
    expect(f.length).toBe(0);
    expect(frameBytes(0)).toBe(FRAME_HEADER_BYTES);
  });

  it.each([
    ['short', new ArrayBuffer(8), /shorter than its 16-byte header/],
    ['wrong magic', new ArrayBuffer(16), /not a record frame: magic 0x0/],
  ])('refuses a %s buffer', (_name, buf, msg) => {
    expect(() => decodeFrame(buf)).toThrow(msg);
  });

  it('refuses a frame whose length disagrees with its count', () => {
    const buf = new ArrayBuffer(32);
    const v = new DataView(buf);
    v.setUint32(0, FRAME_MAGIC, true);
    v.setUint32(4, 9, true);
    expect(() => decodeFrame(buf)).toThrow(/announces 9 records, which take/);
  });
});
