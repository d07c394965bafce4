// Traffic generators run inside namespaces (`ip netns exec NS …`, which execs
// the tool in place, so the pid we hold is the tool's own). Every child has a
// time bound and is tracked so killAllTraffic() kills it by pid.
import { spawn } from 'node:child_process';
import { parsePing, type PingResult } from '../core/ping-output';
import { CommandError, isRunning, killChild, killChildren, netnsArgv, nsExec, quote, sleep, track } from './exec';

export { CommandError } from './exec';

/** Kill every traffic child (and any other lab child) still running, by pid. */
export const killAllTraffic = killChildren;

export interface PingOptions {
  count: number;
  /** seconds between requests; below 0.2 s needs root (we are) */
  intervalS: number;
  /** payload bytes (-s); keep >= 16 so ping's timestamp is in the payload */
  size?: number;
  /** force IPv6 (-6); also implied by a ':' in the target */
  v6?: boolean;
  /** back to back (-i 0). Not `ping -f`, which prints no per-reply lines. */
  flood?: boolean;
  /** seconds to wait for the last replies (-W), default 2 */
  waitS?: number;
}

const num = (v: number): string => String(Number(v.toFixed(6)));

export async function ping(ns: string, target: string, opts: PingOptions): Promise<PingResult> {
  if (!Number.isInteger(opts.count) || opts.count < 1) throw new Error(`ping: count must be a positive integer, got ${opts.count}`);
  if (!(opts.intervalS >= 0)) throw new Error(`ping: bad intervalS ${opts.intervalS}`);
  const interval = opts.flood ? 0 : opts.intervalS;
  const waitS = opts.waitS ?? 2;
  const args = ['-n', '-c', String(opts.count), '-i', num(interval), '-W', num(waitS)];
  if (opts.size !== undefined) args.push('-s', String(opts.size));
  if (opts.v6 || target.includes(':')) args.push('-6');
  args.push(target);
  const timeoutMs = Math.ceil((opts.count * interval + waitS) * 1000) + 10_000;
  // exit 1 = some replies missing: still a result; 2 = error (unreachable, bad args)
  const { stdout } = await nsExec(ns, 'ping', args, { timeoutMs, okCodes: [1] });
  return parsePing(stdout);
}

export interface IperfServer {
  pid: number;
  port: number;
  /** the server's text output so far (last 64 KiB), e.g. "Accepted connection from …" */
  output(): string;
  stop(): Promise<void>;
}

async function listening(ns: string, port: number): Promise<boolean> {
  const { stdout } = await nsExec(ns, 'ss', ['-Hltn', `sport = :${port}`], { timeoutMs: 5000 });
  return stdout.trim().length > 0;
}

/** Start a long-running `iperf3 -s -p PORT` in ns; resolves once it listens. */
export async function startIperfServer(ns: string, opts: { port?: number; startTimeoutMs?: number } = {}): Promise<IperfServer> {
  const port = opts.port ?? 5201;
  const [file, args] = netnsArgv(ns, 'iperf3', ['-s', '-p', String(port), '--forceflush']);
  const command = quote(file, args);
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-65536)));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-8192)));
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));

  const stop = async (): Promise<void> => {
    if (!isRunning(child)) return;
    killChild(child, 'SIGTERM');
    const done = await Promise.race([exited.then(() => true), sleep(2000).then(() => false)]);
    if (!done) {
      killChild(child, 'SIGKILL');
      await exited;
    }
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 5000);
  for (;;) {
    if (spawnError || !isRunning(child)) {
      await exited;
      throw new CommandError(command, child.exitCode, child.signalCode, err || out, out, spawnError?.message ?? 'exited before listening');
    }
    if (await listening(ns, port).catch(() => false)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new CommandError(command, null, null, err || out, out, 'not listening in time');
    }
    await sleep(25);
  }
  return { pid: child.pid as number, port, output: () => out, stop };
}

export interface IperfClientOptions {
  udp?: boolean;
  /** whole seconds (iperf3 -t) */
  seconds: number;
  /** iperf3 -b, e.g. "10M"; iperf3's UDP default is 1 Mbit/s */
  bitrate?: string;
  port: number;
  v6?: boolean;
  /** the server sends, the client receives (-R) */
  reverse?: boolean;
  /** parallel streams (iperf3 -P); the result is their sum */
  streams?: number;
}

export interface IperfResult {
  /** receiver side (iperf3 end.sum_received; end.sum if absent) */
  bitsPerSecond: number;
  bytes: number;
  /** UDP only, as counted by the receiver */
  lostPackets?: number;
  packets?: number;
  /** the full `iperf3 -J` document */
  json: unknown;
}

interface IperfSum {
  bits_per_second?: number;
  bytes?: number;
  lost_packets?: number;
  packets?: number;
}

/** Run `iperf3 -c SERVER -J …` in ns to completion. */
export async function iperfClient(ns: string, server: string, opts: IperfClientOptions): Promise<IperfResult> {
  if (!Number.isInteger(opts.seconds) || opts.seconds < 1) throw new Error(`iperfClient: seconds must be a positive integer, got ${opts.seconds}`);
  const args = ['-c', server, '-p', String(opts.port), '-t', String(opts.seconds), '-J', '--connect-timeout', '3000'];
  if (opts.udp) args.push('-u');
  if (opts.reverse) args.push('-R');
  if (opts.streams !== undefined) args.push('-P', String(opts.streams));
  if (opts.bitrate !== undefined) args.push('-b', opts.bitrate);
  if (opts.v6 || server.includes(':')) args.push('-6');
  const command = quote('ip', ['netns', 'exec', ns, 'iperf3', ...args]);
  const r = await nsExec(ns, 'iperf3', args, { timeoutMs: (opts.seconds + 20) * 1000, okCodes: [1] });
  let json: { error?: string; end?: { sum?: IperfSum; sum_received?: IperfSum } };
  try {
    json = JSON.parse(r.stdout) as typeof json;
  } catch {
    throw new CommandError(command, r.code, null, r.stderr || r.stdout, r.stdout, 'output is not JSON');
  }
  if (json.error !== undefined || r.code !== 0) {
    throw new CommandError(command, r.code, null, json.error ?? r.stderr, r.stdout);
  }
  const end = json.end ?? {};
  const sum = end.sum_received ?? end.sum ?? {};
  const res: IperfResult = { bitsPerSecond: sum.bits_per_second ?? 0, bytes: sum.bytes ?? 0, json };
  if (opts.udp) {
    if (sum.lost_packets !== undefined) res.lostPackets = sum.lost_packets;
    if (sum.packets !== undefined) res.packets = sum.packets;
  }
  return res;
}
