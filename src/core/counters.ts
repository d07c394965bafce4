// counters.ts - decode struct mb_counters (bpf/macebpf.h): per container and
// direction, what the kernel saw and what became a record.

export const DIR_COUNTER_FIELDS = ['packets', 'bytes', 'created', 'events', 'unmatched', 'stale', 'lost', 'collisions'] as const;
export type DirCounterField = (typeof DIR_COUNTER_FIELDS)[number];
export type DirCounters = Record<DirCounterField, number>;
export interface ContainerCounters {
  egress: DirCounters;
  ingress: DirCounters;
}

/** u64 fields in declaration order; a direction block is 8 of them. */
export const DIR_COUNTERS_SIZE = DIR_COUNTER_FIELDS.length * 8;
export const COUNTERS_SIZE = 2 * DIR_COUNTERS_SIZE;

export function decodeCounters(buf: ArrayBuffer): ContainerCounters {
  if (buf.byteLength !== COUNTERS_SIZE) {
    throw new Error(`counters of ${buf.byteLength} bytes, expected ${COUNTERS_SIZE}: rebuild the addon (npm install)`);
  }
  const u = new BigUint64Array(buf);
  const dir = (base: number): DirCounters => {
    const out = {} as DirCounters;
    DIR_COUNTER_FIELDS.forEach((f, i) => (out[f] = Number(u[base + i])));
    return out;
  };
  return { egress: dir(0), ingress: dir(DIR_COUNTER_FIELDS.length) };
}

/** Records per packet seen at the container device; NaN before any packet. */
export function coverage(c: DirCounters): number {
  return c.packets === 0 ? NaN : c.events / c.packets;
}
