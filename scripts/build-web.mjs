// build-web.mjs - builds the dashboard (web/) into dist/web, which the daemon
// serves (src/server/static.ts). Runs in `npm install` (prepare), so a fresh
// clone has it; the output is never committed. esbuild bundles web/src/main.ts
// with the very src/core modules the server uses (frame decoder, units,
// protocol schemas) and uPlot from node_modules: nothing comes from a CDN.
// Type checking is `tsc -p web` in npm test; esbuild only strips types.
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/web');

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });
const result = await esbuild.build({
  entryPoints: { app: path.join(root, 'web/src/main.ts'), style: path.join(root, 'web/src/style.css') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outdir: out,
  logLevel: 'warning',
  metafile: true,
});
for (const f of ['index.html']) fs.copyFileSync(path.join(root, 'web', f), path.join(out, f));
const bytes = Object.entries(result.metafile.outputs)
  .filter(([f]) => !f.endsWith('.map'))
  .map(([f, o]) => `${path.basename(f)} ${(o.bytes / 1024).toFixed(0)} KiB`);
console.log(`macebpf: dashboard built into ${path.relative(root, out)}/ (${bytes.join(', ')})`);
