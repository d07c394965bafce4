// Persistent lab state: one JSON file per lab in /run/macebpf/labs/<id>.json
// (tmpfs, so it disappears with the namespaces on reboot), plus owner-liveness
// checks used by reapLabs().
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Lab } from './types';

export const LAB_STATE_DIR = '/run/macebpf/labs';

/** Lab ids: lower-case letters and digits (they become part of netns names). */
export const LAB_ID_RE = /^[a-z0-9]{1,12}$/;

export function stateFile(id: string): string {
  return path.join(LAB_STATE_DIR, `${id}.json`);
}

/** Atomically (write + rename) store the lab's state file. */
export function writeState(lab: Lab): void {
  fs.mkdirSync(LAB_STATE_DIR, { recursive: true, mode: 0o755 });
  const file = stateFile(lab.id);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(lab, null, 2) + '\n', { mode: 0o644 });
  fs.renameSync(tmp, file);
}

export function removeState(id: string): void {
  fs.rmSync(stateFile(id), { force: true });
}

export function hasState(id: string): boolean {
  return fs.existsSync(stateFile(id));
}

/** Ids of all state files, parseable or not. */
export function stateIds(): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(LAB_STATE_DIR);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -'.json'.length))
    .filter((id) => LAB_ID_RE.test(id))
    .sort();
}

export function readState(id: string): Lab | undefined {
  try {
    const lab = JSON.parse(fs.readFileSync(stateFile(id), 'utf8')) as Lab;
    return lab && lab.id === id && Array.isArray(lab.containers) ? lab : undefined;
  } catch {
    return undefined;
  }
}

/** Age in seconds of a state file (undefined when it does not exist). */
export function stateAgeS(id: string): number | undefined {
  try {
    return (Date.now() - fs.statSync(stateFile(id)).mtimeMs) / 1000;
  } catch {
    return undefined;
  }
}

/** Start time of a process (clock ticks since boot, /proc/PID/stat field 22). */
export function processStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]); // field 22; fields[0] is field 3 (state)
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the lab's owner still runs. ownerPid 0 (persistent lab) counts as
 * alive. A recorded start time guards against a recycled pid.
 */
export function ownerAlive(lab: Pick<Lab, 'ownerPid' | 'ownerStartTime'>): boolean {
  if (lab.ownerPid === 0) return true;
  try {
    process.kill(lab.ownerPid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (lab.ownerStartTime === undefined) return true;
  const start = processStartTime(lab.ownerPid);
  return start === undefined || start === lab.ownerStartTime;
}
