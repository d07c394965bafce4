// lab.ts - `macebpf lab up|down|list`: the test/demo topology on its own.
import { ownerAlive } from '../lab/state';
import { labDown, labUp, listLabs, reapLabs, type Lab } from '../lab/topology';

export function describeLab(lab: Lab): string {
  const c = lab.containers.map((x) => `  container ${x.name}: ${x.dev} ${x.ip4} ${x.ip6}`).join('\n');
  return [
    `lab ${lab.id}`,
    `  host ${lab.host.name}: bridge ${lab.host.bridge} ${lab.host.ip4}, outer device ${lab.host.uplink}`,
    c,
    `  target ${lab.target.name}: ${lab.target.ip4} ${lab.target.ip6}`,
    `  trace it: macebpf trace --netns ${lab.containers[0]?.name} --outer ${lab.host.uplink} --outer-netns ${lab.host.name}`,
  ].join('\n');
}

export async function runLabUp(containers: number): Promise<void> {
  await reapLabs();
  const lab = await labUp({ containers, ownerPid: 0 }); // persistent until `lab down`
  process.stdout.write(describeLab(lab) + '\n');
}

/** Without ids: the persistent labs (`lab up`) and those whose owner died; a
 * running demo's or test's lab is its owner's to remove. */
export async function runLabDown(ids: string[]): Promise<void> {
  const targets = ids.length ? ids : listLabs().filter((l) => l.ownerPid === 0 || !ownerAlive(l)).map((l) => l.id);
  for (const id of targets) {
    await labDown(id);
    process.stdout.write(`removed lab ${id}\n`);
  }
  if (!targets.length) process.stdout.write('no labs to remove\n');
}

export function runLabList(): void {
  const labs = listLabs();
  process.stdout.write(labs.length ? labs.map(describeLab).join('\n') + '\n' : 'no labs\n');
}
