// Without privileges the CLI says which capabilities it needs, in one
// message, instead of a bare EPERM. Needs root to drop to an unprivileged user.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isRoot, skipUnlessRoot } from '../support/root';

const CLI = path.resolve(__dirname, '../../dist/src/cli.js');

describe.skipIf(skipUnlessRoot)('missing privileges', () => {
  it('names the capabilities to grant and exits 1', async () => {
    if (!isRoot) throw new Error('this test drops from root to nobody: run it as root');
    const err = await promisify(execFile)('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI,
      'trace', '--netns', '/proc/self/ns/net', '--outer', 'lo', '--duration', '1'])
      .then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(/macebpf__load failed: Operation not permitted \(errno 1\): macebpf needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN/);
  });
});
