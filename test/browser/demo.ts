// demo.ts - a real `macebpf demo` for the browser tests and bench/dashboard.ts,
// started through the compiled CLI as `npm start` does; its URL and token are
// read from what it prints. Stopped with SIGTERM (it removes its lab), killed
// by pid if it does not end in time.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { until } from '../support/cli';

// From test/browser (vitest) or dist/test/browser (the compiled benchmark).
const CLI = [path.resolve(__dirname, '../../dist/src/cli.js'), path.resolve(__dirname, '../../src/cli.js')].find((f) => fs.existsSync(f));

export interface Demo {
  pid: number;
  stderr(): string;
  url: string; // with #token=…
  port: number;
  containers: string[];
  bulk: string; // the container with the TCP bulk flow, limited at start
  stop(): Promise<void>;
}

export async function startDemo(port = 0): Promise<Demo> {
  if (!CLI) throw new Error(`the compiled CLI is missing next to ${__dirname}: run npm test or npx tsc -p . first`);
  const child = spawn(process.execPath, [CLI, 'demo', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stdout.resume(); // the live table is only drawn on a TTY; drain whatever comes
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  };
  try {
    await until('the demo to print its dashboard URL', () => /dashboard http\S+#token=\S+/.test(err) || child.exitCode !== null, 90_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const m = /dashboard (http:\/\/\S+:(\d+)\/\S*#token=\S+)/.exec(err);
  const containers = [...err.matchAll(/^macebpf: (mb-\w+-c\d+): /gm)].map((x) => x[1]);
  const bulk = /^macebpf: (mb-\w+-c\d+) limited to/m.exec(err)?.[1];
  if (!m || !bulk || !containers.length) {
    await stop();
    throw new Error(`demo did not start as expected (URL, containers, a limited container):\n${err}`);
  }
  return { pid: child.pid!, stderr: () => err, url: m[1], port: Number(m[2]), containers, bulk, stop };
}
