// nsexec.ts - run a command inside a network namespace (nsenter), or directly
// when it is the caller's own (that needs no CAP_SYS_ADMIN).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { inCgroup } from './cgroup';
import { currentNetns, type NetnsRef } from './netns';

export function nsExecSync(netns: NetnsRef, cmd: string, args: string[]): string {
  const own = netns.inode === currentNetns().inode;
  const [file, ...argv] = own ? [cmd, ...args] : ['nsenter', `--net=${netns.path}`, cmd, ...args];
  try {
    return execFileSync(file, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    const hint = /Operation not permitted/.test(stderr) ? ': run as root (entering a netns needs CAP_SYS_ADMIN)' : '';
    throw new Error(`${cmd} ${args.join(' ')} in netns ${netns.label} failed: ${stderr}${hint}`);
  }
}

export function ipJson(netns: NetnsRef, args: string[]): unknown {
  return JSON.parse(nsExecSync(netns, 'ip', ['-j', ...args]) || '[]');
}

/**
 * Starts cmd inside netns (through nsenter unless it is the caller's own) and
 * in the container's cgroup where it has one, as `docker exec` would, so its
 * sends pass the egress socket stage; stdout and stderr piped.
 */
export function spawnInNetns(netns: NetnsRef, cmd: string, args: string[]): ChildProcess {
  const own = netns.inode === currentNetns().inode;
  const [file, ...argv] = own ? [cmd, ...args] : ['nsenter', `--net=${netns.path}`, cmd, ...args];
  return spawn(...inCgroup(netns.cgroup, file, argv), { stdio: ['ignore', 'pipe', 'pipe'] });
}
