// demo.ts - a real `macebpf demo` for the browser tests, started through the
// CLI as `npm start` does; its URL and token read from what it prints. It is
// stopped with SIGTERM (it removes its lab) and killed by pid if it hangs.
import { cli, until, type Cli } from '../support/cli';

export interface Demo {
  proc: Cli;
  url: string; // with #token=…
  port: number;
  containers: string[];
  bulk: string; // the container with the TCP bulk flow, limited at start
  stop(): Promise<void>;
}

export async function startDemo(port = 0): Promise<Demo> {
  const proc = cli(['demo', '--port', String(port)]);
  await until('the demo to print its dashboard URL', () => /dashboard http\S+#token=\S+/.test(proc.stderr()) || proc.child.exitCode !== null, 90_000);
  const m = /dashboard (http:\/\/\S+:(\d+)\/\S*#token=\S+)/.exec(proc.stderr());
  if (!m) throw new Error(`demo did not start:\n${proc.stderr()}`);
  const containers = [...proc.stderr().matchAll(/^macebpf: (mb-\w+-c\d+): /gm)].map((x) => x[1]);
  const bulk = /^macebpf: (mb-\w+-c\d+) limited to/m.exec(proc.stderr())?.[1];
  if (!bulk) throw new Error(`demo limited no container:\n${proc.stderr()}`);
  return {
    proc,
    url: m[1],
    port: Number(m[2]),
    containers,
    bulk,
    stop: async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
      proc.child.kill('SIGTERM');
      const t = setTimeout(() => proc.child.kill('SIGKILL'), 20_000);
      await proc.exited;
      clearTimeout(t);
    },
  };
}
