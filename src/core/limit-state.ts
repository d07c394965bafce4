// limit-state.ts - decode struct mb_limit_state (bpf/macebpf.h) and turn two
// readings into Mesos' bw_limit statistics (DESIGN §3, §5).

/** u64 fields after the 8-byte spin lock + pad, in declaration order. */
export const LIMIT_STATE_FIELDS = ['t_last', 'packets', 'bytes', 'delayed', 'delay_ns', 'drops', 'drop_bytes'] as const;
export const LIMIT_STATE_SIZE = 8 + LIMIT_STATE_FIELDS.length * 8;
export const LIMIT_STATE_OFFSETS = Object.fromEntries(LIMIT_STATE_FIELDS.map((f, i) => [f, 8 + i * 8])) as Record<(typeof LIMIT_STATE_FIELDS)[number], number>;

export interface LimitState {
  tLastNs: bigint; // CLOCK_MONOTONIC departure time of the last packet
  packets: number;
  bytes: number;
  delayed: number;
  delayNs: number;
  drops: number;
  dropBytes: number;
}

export function decodeLimitState(buf: ArrayBuffer): LimitState {
  if (buf.byteLength !== LIMIT_STATE_SIZE) {
    throw new Error(`limit state of ${buf.byteLength} bytes, expected ${LIMIT_STATE_SIZE}: rebuild the addon (npm install)`);
  }
  const v = new DataView(buf);
  const u = (f: (typeof LIMIT_STATE_FIELDS)[number]): bigint => v.getBigUint64(LIMIT_STATE_OFFSETS[f], true);
  return {
    tLastNs: u('t_last'),
    packets: Number(u('packets')),
    bytes: Number(u('bytes')),
    delayed: Number(u('delayed')),
    delayNs: Number(u('delay_ns')),
    drops: Number(u('drops')),
    dropBytes: Number(u('drop_bytes')),
  };
}

/** Mesos' net_traffic_control_statistics entry of the egress limit. */
export interface BwLimitStatistics {
  id: 'bw_limit';
  backlog: number; // bytes scheduled but not yet due (virtual queue)
  bytes: number;
  drops: number;
  overlimits: number; // packets that had to wait for their departure time
  packets: number;
  qlen: number; // packets in that virtual queue, estimated from the mean size
  ratebps: number; // bytes/s over the last interval (tc's "rate" is in bytes)
  ratepps: number;
  requeues: number; // EDT never requeues: always 0
}

export interface LimitSample {
  state: LimitState;
  monoNs: bigint; // CLOCK_MONOTONIC when read
}

/** The backlog as time: how far the last departure time is ahead of the reading. */
export function backlogNs(sample: LimitSample): number {
  return sample.state.tLastNs > sample.monoNs ? Number(sample.state.tLastNs - sample.monoNs) : 0;
}

export function bwLimitStatistics(now: LimitSample, prev: LimitSample | undefined, rateBytesPerSec: number): BwLimitStatistics {
  const s = now.state;
  const backlog = Math.round((backlogNs(now) * rateBytesPerSec) / 1e9);
  const meanSize = s.packets ? s.bytes / s.packets : 0;
  const dt = prev ? Number(now.monoNs - prev.monoNs) / 1e9 : 0;
  return {
    id: 'bw_limit',
    backlog,
    bytes: s.bytes,
    drops: s.drops,
    overlimits: s.delayed,
    packets: s.packets,
    qlen: meanSize ? Math.round(backlog / meanSize) : 0,
    ratebps: prev && dt > 0 ? Math.round((s.bytes - prev.state.bytes) / dt) : 0,
    ratepps: prev && dt > 0 ? Math.round((s.packets - prev.state.packets) / dt) : 0,
    requeues: 0,
  };
}
