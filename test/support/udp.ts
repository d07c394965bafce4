// udp.ts - UDP senders and a sink in lab namespaces, as node child processes
// (`ip netns exec NS node -e …`: ip execs node in place, so the pid we hold
// is the sender's). Senders busy-wait on CLOCK_MONOTONIC, which all
// processes share, so several of them in different namespaces send at the
// same instants. Children are tracked: killAllTraffic() kills them by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { netnsArgv, track } from '../../src/lab/exec';
import { until } from './cli';

// Payload: the first 16 bytes (what the packet key reads) are an 8-byte tag
// shared by every sender of a run, the datagram's index k (u32 BE) and 4
// bytes of 0; the rest is filler. Equal tag and k give byte-identical datagrams.
const SENDER = `
const dgram = require('node:dgram');
const cfg = JSON.parse(process.argv[1]);
const s = dgram.createSocket(cfg.host.includes(':') ? 'udp6' : 'udp4');
s.on('error', (e) => { process.stderr.write(String(e) + '\\n'); process.exit(2); });
const bufs = [];
for (let k = 0; k < cfg.count; k++) {
  const b = Buffer.alloc(cfg.size, 0x2a);
  Buffer.from(cfg.tag, 'hex').copy(b, 0);
  b.writeUInt32BE(k, 8);
  b.writeUInt32BE(0, 12);
  bufs.push(b);
}
// Connected: send() then skips the address lookup and calls sendmsg at once.
s.connect(cfg.port, cfg.host, () => {
  process.stdout.write('ready\\n');
  process.stdin.once('data', (d) => {
    const start = BigInt(String(d).trim());
    const before = [];
    let done = 0;
    const errors = [];
    const sent = (e) => {
      if (e) errors.push(String(e));
      if (++done === cfg.count) {
        process.stdout.write(JSON.stringify({ before, errors }) + '\\n');
        s.close();
      }
    };
    for (let k = 0; k < cfg.count; k++) {
      const due = start + BigInt(k * cfg.periodNs);
      while (process.hrtime.bigint() < due);
      before.push(Number(process.hrtime.bigint() - start));
      s.send(bufs[k], sent);
    }
  });
});
`;

// Binds the port so that datagrams are consumed, not answered with ICMP port
// unreachable (which would fail the senders' next send on a connected socket).
const SINK = `
const dgram = require('node:dgram');
const [port, family] = JSON.parse(process.argv[1]);
const s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
s.on('message', () => {});
s.bind(port, () => process.stdout.write('ready\\n'));
`;

function nodeIn(ns: string, code: string, arg: unknown): { child: ChildProcess; out: () => string; err: () => string } {
  // In the container's cgroup where it has one, as the lab runs a container's processes.
  const child = spawn(...netnsArgv(ns, process.execPath, ['-e', code, JSON.stringify(arg)]), { stdio: ['pipe', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { child, out: () => out, err: () => err };
}

export interface SenderSpec {
  ns: string;
  host: string;
  port: number;
  count: number;
  /** ns between datagrams; 0 = back to back */
  periodNs: number;
  size: number;
  /** 16 hex digits shared by senders whose datagrams must be identical */
  tag: string;
}

export interface SendLog {
  /** per datagram: ns after the common start when its send() was called */
  before: number[];
  /** send errors (none expected) */
  errors: string[];
}

/**
 * Starts one sender per spec, waits until all are connected, then lets them
 * go at one common CLOCK_MONOTONIC instant (20 ms ahead). Resolves when all
 * have sent everything.
 */
export async function sendTogether(specs: SenderSpec[]): Promise<SendLog[]> {
  const procs = specs.map((s) => nodeIn(s.ns, SENDER, s));
  const alive = (p: (typeof procs)[number]): boolean => p.child.exitCode === null;
  await until('the senders to connect', () => procs.every((p) => p.out().includes('ready\n') || !alive(p)), 15_000);
  for (const p of procs) if (!alive(p)) throw new Error(`UDP sender exited: ${p.err()}`);
  const start = process.hrtime.bigint() + 20_000_000n;
  for (const p of procs) p.child.stdin!.end(`${start}\n`);
  const logs = await Promise.all(
    procs.map(
      (p) =>
        new Promise<SendLog>((resolve, reject) =>
          p.child.once('close', (code) => {
            const line = p.out().split('\n').find((l) => l.startsWith('{'));
            const log = line ? (JSON.parse(line) as SendLog) : undefined;
            if (code !== 0 || !log || log.errors.length > 0) reject(new Error(`UDP sender failed (exit ${code}): ${p.err()} ${log?.errors.slice(0, 3).join('; ') ?? ''}`));
            else resolve(log);
          }),
        ),
    ),
  );
  return logs;
}

/** A UDP sink on port in ns; stop() kills it by pid. */
export async function udpSink(ns: string, port: number, family: 4 | 6 = 4): Promise<{ stop: () => void }> {
  const p = nodeIn(ns, SINK, [port, family]);
  await until('the UDP sink to bind', () => p.out().includes('ready\n') || p.child.exitCode !== null, 15_000);
  if (p.child.exitCode !== null) throw new Error(`UDP sink exited: ${p.err()}`);
  return { stop: () => void (p.child.exitCode === null && p.child.kill('SIGKILL')) };
}
