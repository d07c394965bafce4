// gso.ts - bounds the burst an EDT-paced device sends at once. fq releases a
// packet whole at its departure time, and on veth a TCP GSO packet is up to
// 64 KiB: at a 50 Mbit/s limit that is 10 ms of the container's share leaving
// in one burst, which its neighbours then queue behind at a shared bottleneck
// (docs/rate-limit.md, "Bursts"). Capping the device's gso_max_segs to about
// BURST_NS of data at the rate bounds what it sends at once; and as every
// packet then holds at most BURST_NS of data, a limited container sends at
// most 1 s / BURST_NS GSO packets per second, whatever the rate. TCP reads
// the cap when a socket picks its route, so it applies to connections opened
// after the limit is set.
import type { NetnsRef } from './netns';
import { ipJson, nsExecSync } from './nsexec';

/** Data a limited container may send in one packet, as time at its rate. */
export const BURST_NS = 1e6;
const ETH_HLEN = 14;

/** Segments per GSO packet for a rate: BURST_NS of wire bytes, at least one. */
export function gsoSegsFor(rateBytesPerSec: number, mtu: number): number {
  return Math.max(1, Math.floor((rateBytesPerSec * BURST_NS) / 1e9 / (mtu + ETH_HLEN)));
}

interface LinkInfo {
  mtu: number;
  gso_max_segs?: number;
}

/** A device's gso_max_segs held at a cap; restore() puts the original back. */
export class GsoCap {
  private readonly original: number;
  private readonly mtu: number;
  segs = 0;

  constructor(
    private readonly netns: NetnsRef,
    private readonly dev: string,
  ) {
    const [link] = ipJson(netns, ['-d', 'link', 'show', 'dev', dev]) as LinkInfo[];
    if (link?.gso_max_segs === undefined) throw new Error(`ip link does not report gso_max_segs of ${dev} in netns ${netns.label}: iproute2 too old?`);
    this.original = link.gso_max_segs;
    this.mtu = link.mtu;
  }

  /** Caps the device for a rate; never raises it above what it had. */
  set(rateBytesPerSec: number): number {
    const segs = Math.min(this.original, gsoSegsFor(rateBytesPerSec, this.mtu));
    if (segs !== this.segs) this.write(segs);
    this.segs = segs;
    return segs;
  }

  restore(): void {
    this.write(this.original);
  }

  private write(segs: number): void {
    nsExecSync(this.netns, 'ip', ['link', 'set', 'dev', this.dev, 'gso_max_segs', String(segs)]);
  }
}
