// DESIGN §1: src/core is pure (no Node API), so the dashboard bundles the
// very same modules; src/core and src/server never import the lab.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../src');

function files(dir: string): string[] {
  return fs.readdirSync(path.join(SRC, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => path.join(SRC, dir, f));
}

const imports = (file: string): string[] => [...fs.readFileSync(file, 'utf8').matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]!);

describe('module boundaries', () => {
  it('src/core imports no Node module and touches no process global', () => {
    for (const f of files('core')) {
      const text = fs.readFileSync(f, 'utf8');
      for (const i of imports(f)) {
        expect(i.startsWith('node:') || ['fs', 'path', 'os', 'child_process', 'bindings'].includes(i), `${path.basename(f)} imports ${i}`).toBe(false);
        expect(i.startsWith('../'), `${path.basename(f)} imports ${i} from outside core`).toBe(false);
      }
      expect(/\bprocess\.|\bBuffer\b|__dirname|require\(/.test(text), `${path.basename(f)} uses a Node global`).toBe(false);
    }
  });

  it('src/core and src/server never import src/lab', () => {
    for (const f of [...files('core'), ...files('server')]) {
      for (const i of imports(f)) expect(i.includes('/lab/'), `${path.relative(SRC, f)} imports ${i}`).toBe(false);
    }
  });

  it('only entry points install process-wide handlers', () => {
    const entries = new Set(['cli.ts', 'entry.ts']);
    for (const f of files('.')) {
      if (entries.has(path.relative(SRC, f))) continue;
      const text = fs.readFileSync(f, 'utf8');
      expect(/process\.(on|once)\(|process\.exit\(/.test(text), `${path.relative(SRC, f)} installs a process handler or exits`).toBe(false);
    }
  });
});
