// iface.ts - interfaces inside a network namespace: name -> ifindex, the
// device of the default route (the default outer device, DESIGN §5), and the
// kernel's own interface statistics.
import { loadAddon } from './addon';
import { currentNetns, netnsPresent, resolveNetns, type NetnsRef } from './netns';
import { ipJson } from './nsexec';

export interface OuterDevice {
  netns: NetnsRef;
  name: string;
  ifindex: number;
}

/** Whether the outer device is still there: same netns, same device (ifindex). */
export function outerPresent(dev: OuterDevice): boolean {
  return netnsPresent(dev.netns) && loadAddon().ifindexOf(dev.netns.path, dev.name) === dev.ifindex;
}

export function resolveIface(netns: NetnsRef, name: string): OuterDevice {
  const links = ipJson(netns, ['link', 'show']) as { ifindex: number; ifname: string }[];
  const link = links.find((l) => l.ifname === name);
  if (!link) {
    const names = links.map((l) => l.ifname).join(', ');
    throw new Error(`no interface "${name}" in netns ${netns.label}; it has: ${names}. Pass --outer with one of them (and --outer-netns for another netns)`);
  }
  return { netns, name, ifindex: link.ifindex };
}

export function defaultRouteIface(netns: NetnsRef): string {
  const routes = ipJson(netns, ['route', 'show', 'default']) as { dev?: string }[];
  const dev = routes.find((r) => r.dev)?.dev;
  if (!dev) {
    throw new Error(`netns ${netns.label} has no default route, so the outer device cannot be guessed: pass --outer IFACE (and --outer-netns SPEC)`);
  }
  return dev;
}

/** The kernel's counters of one interface (`ip -s link`). */
export interface LinkStats {
  rx: { bytes: number; packets: number; errors: number; dropped: number };
  tx: { bytes: number; packets: number; errors: number; dropped: number };
}

/** Statistics of every non-loopback interface of a netns. */
export function linkStats(netns: NetnsRef): Map<string, LinkStats> {
  const links = ipJson(netns, ['-s', 'link', 'show']) as { ifname: string; link_type?: string; stats64: LinkStats }[];
  return new Map(links.filter((l) => l.link_type !== 'loopback').map((l) => [l.ifname, l.stats64]));
}

/** The outer device as DESIGN §5 defines the options: --outer, else the
 * default route's device, in --outer-netns, else the caller's netns. */
export function resolveOuter(outer: string | undefined, outerNetns: string | undefined): OuterDevice {
  const ns = outerNetns ? resolveNetns(outerNetns) : currentNetns();
  return resolveIface(ns, outer ?? defaultRouteIface(ns));
}
