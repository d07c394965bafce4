// Binary record frames (WebSocket, DESIGN §5): one frame carries a batch of
// latency records as columns, so the dashboard gets typed arrays it can hand
// to uPlot without a per-record object. The server encodes, web/ and tests
// decode, with this one module. Layout (little-endian, n records):
//
//   offset        size   field
//   0             4      magic 0x3142524d ("MRB1")
//   4             4      n
//   8             8      baseNs: u64 wall-clock ns since the epoch of t = 0
//   16            8n     t: f64 ns since baseNs (first observed stage)
//   16+8n         4n     total_ns: u32
//   …             4n     stack_ns: u32, 0xffffffff = not observed
//   …             4n     virt_ns:  u32, 0xffffffff = not observed
//   …             4n     packet_id: u32 (ICMP sequence, TCP sequence, key hash)
//   …             4n     netns: u32 (container netns inode)
//   …             n      direction: u8 (0 egress, 1 ingress)
//   …             n      protocol: u8 (IP protocol number)
//   then zero padding to a multiple of 8 bytes.
import { ABSENT, type RecordColumns } from './records';

export const FRAME_MAGIC = 0x3142524d;
export const FRAME_HEADER_BYTES = 16;
/** Bytes per record in a frame, before padding. */
export const FRAME_RECORD_BYTES = 8 + 5 * 4 + 2;

export interface FrameColumns {
  baseNs: bigint;
  length: number;
  t: Float64Array;
  total: Uint32Array;
  stack: Uint32Array;
  virt: Uint32Array;
  packetId: Uint32Array;
  netns: Uint32Array;
  dir: Uint8Array;
  proto: Uint8Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function frameBytes(n: number): number {
  return Math.ceil((FRAME_HEADER_BYTES + n * FRAME_RECORD_BYTES) / 8) * 8;
}

function views(buf: ArrayBuffer, byteOffset: number, n: number): Omit<FrameColumns, 'baseNs' | 'length'> {
  let o = byteOffset + FRAME_HEADER_BYTES;
  const take = <T>(make: (b: ArrayBuffer, off: number, len: number) => T, size: number): T => {
    const v = make(buf, o, n);
    o += size * n;
    return v;
  };
  return {
    t: take((b, off, len) => new Float64Array(b, off, len), 8),
    total: take((b, off, len) => new Uint32Array(b, off, len), 4),
    stack: take((b, off, len) => new Uint32Array(b, off, len), 4),
    virt: take((b, off, len) => new Uint32Array(b, off, len), 4),
    packetId: take((b, off, len) => new Uint32Array(b, off, len), 4),
    netns: take((b, off, len) => new Uint32Array(b, off, len), 4),
    dir: take((b, off, len) => new Uint8Array(b, off, len), 1),
    proto: take((b, off, len) => new Uint8Array(b, off, len), 1),
  };
}

/**
 * Encodes the records `which` (indices into cols; all when omitted) of a
 * decoded batch whose store times are t. Parts that are NaN become ABSENT.
 */
export function encodeFrame(cols: RecordColumns, t: Float64Array, baseNs: bigint, which?: ArrayLike<number>): ArrayBuffer {
  if (!LITTLE_ENDIAN) throw new Error('record frames are little-endian; this host is big-endian');
  const n = which ? which.length : cols.length;
  const buf = new ArrayBuffer(frameBytes(n));
  const h = new DataView(buf);
  h.setUint32(0, FRAME_MAGIC, true);
  h.setUint32(4, n, true);
  h.setBigUint64(8, baseNs, true);
  const v = views(buf, 0, n);
  for (let j = 0; j < n; j++) {
    const i = which ? which[j] : j;
    v.t[j] = t[i];
    v.total[j] = cols.totalNs[i];
    v.stack[j] = cols.stackNs[i] === cols.stackNs[i] ? cols.stackNs[i] : ABSENT;
    v.virt[j] = cols.virtNs[i] === cols.virtNs[i] ? cols.virtNs[i] : ABSENT;
    v.packetId[j] = cols.packetId[i];
    v.netns[j] = cols.netns[i];
    v.dir[j] = cols.dir[i];
    v.proto[j] = cols.proto[i];
  }
  return buf;
}

/** Decodes a frame into views over its bytes (copied once when unaligned). */
export function decodeFrame(data: ArrayBuffer | ArrayBufferView): FrameColumns {
  if (!LITTLE_ENDIAN) throw new Error('record frames are little-endian; this host is big-endian');
  let buf: ArrayBuffer;
  let off: number;
  let len: number;
  if (data instanceof ArrayBuffer) {
    buf = data;
    off = 0;
    len = data.byteLength;
  } else {
    buf = data.buffer as ArrayBuffer;
    off = data.byteOffset;
    len = data.byteLength;
  }
  if (off % 8 !== 0) {
    buf = buf.slice(off, off + len);
    off = 0;
  }
  if (len < FRAME_HEADER_BYTES) throw new Error(`record frame of ${len} bytes is shorter than its ${FRAME_HEADER_BYTES}-byte header`);
  const h = new DataView(buf, off, len);
  const magic = h.getUint32(0, true);
  if (magic !== FRAME_MAGIC) throw new Error(`not a record frame: magic 0x${magic.toString(16)}, expected 0x${FRAME_MAGIC.toString(16)}`);
  const n = h.getUint32(4, true);
  if (len !== frameBytes(n)) throw new Error(`record frame of ${len} bytes announces ${n} records, which take ${frameBytes(n)} bytes`);
  return { baseNs: h.getBigUint64(8, true), length: n, ...views(buf, off, n) };
}
