// discoverNamespaces asks the container runtimes' CLIs at most once per few
// seconds, however many dashboards poll: stand-in `docker` and `podman`
// scripts on PATH count their calls.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { discoverNamespaces } from '../../src/host/discover';

let dir: string;
let oldPath: string | undefined;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-discover-'));
  for (const cli of ['docker', 'podman']) {
    fs.writeFileSync(path.join(dir, cli), `#!/bin/sh\necho x >> "${dir}/${cli}.calls"\necho ${cli}-web\n`, { mode: 0o755 });
  }
  oldPath = process.env.PATH;
  process.env.PATH = `${dir}:${oldPath}`;
});

afterAll(() => {
  process.env.PATH = oldPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

it('lists runtime containers, asking each runtime once for calls within its cache period', async () => {
  const lists = await Promise.all([discoverNamespaces(), discoverNamespaces(), discoverNamespaces()]);
  const again = await discoverNamespaces();
  for (const l of [...lists, again]) {
    expect(l).toContainEqual({ spec: 'docker:docker-web', source: 'docker' });
    expect(l).toContainEqual({ spec: 'podman:podman-web', source: 'podman' });
  }
  const calls = (cli: string): number => fs.readFileSync(path.join(dir, `${cli}.calls`), 'utf8').split('\n').filter(Boolean).length;
  expect(calls('docker')).toBe(1);
  expect(calls('podman')).toBe(1);
});
