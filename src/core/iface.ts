// iface.ts - interfaces inside a network namespace: name -> ifindex, and the
// device of the default route (the default outer device, DESIGN §5).
import { execFileSync } from 'node:child_process';
import { currentNetns, type NetnsRef } from './netns';

export interface OuterDevice {
  netns: NetnsRef;
  name: string;
  ifindex: number;
}

function ipJson(netns: NetnsRef, args: string[]): unknown {
  // Our own netns needs no nsenter (nor the CAP_SYS_ADMIN it takes).
  const own = netns.inode === currentNetns().inode;
  const [cmd, ...argv] = own ? ['ip', '-j', ...args] : ['nsenter', `--net=${netns.path}`, 'ip', '-j', ...args];
  try {
    const out = execFileSync(cmd, argv, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return JSON.parse(out || '[]');
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    const hint = /Operation not permitted/.test(stderr) ? ': run as root (entering a netns needs CAP_SYS_ADMIN)' : '';
    throw new Error(`ip ${args.join(' ')} in netns ${netns.label} failed: ${stderr}${hint}`);
  }
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
