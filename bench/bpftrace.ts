// bpftrace.ts - the bpftrace peer of DESIGN §9: a script that correlates
// net_dev_start_xmit / netif_receive_skb by skb address, filtered on device
// names (container device → outer device on egress, outer → container on
// ingress), keeping a latency histogram per direction.
//
// bpftrace (Debian's 0.17) attaches classic tracepoints, which need tracefs
// for the event formats and ids. tracefs is not mounted on this machine and
// the root mount namespace must not change, so bpftrace runs inside
// `unshare -m` (private propagation) with its own tracefs mount; the mount
// vanishes with the process. The perf-event links are owned by bpftrace's
// fds: the programs go when it exits.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRunning, killChild, run, track } from '../src/lab/exec';
import { perfAttachments } from './bpfstats';
import { checkAborted, sleep } from './context';

const TRACEFS = '/sys/kernel/tracing';

/** The correlation script: skb address as the identity, device names as the filter. */
export function bpftraceScript(containerDev: string, outerDev: string): string {
  const q = (s: string): string => JSON.stringify(s);
  return `// macebpf bench: bpftrace peer (DESIGN §9)
tracepoint:net:net_dev_start_xmit
/ str(args->name) == ${q(containerDev)} /
{ @eg_start[args->skbaddr] = nsecs; }

tracepoint:net:net_dev_start_xmit
/ str(args->name) == ${q(outerDev)} /
{ $t = @eg_start[args->skbaddr]; if ($t) { @egress_ns = hist(nsecs - $t); delete(@eg_start[args->skbaddr]); } }

tracepoint:net:netif_receive_skb
/ str(args->name) == ${q(outerDev)} /
{ @in_start[args->skbaddr] = nsecs; }

tracepoint:net:netif_receive_skb
/ str(args->name) == ${q(containerDev)} /
{ $t = @in_start[args->skbaddr]; if ($t) { @ingress_ns = hist(nsecs - $t); delete(@in_start[args->skbaddr]); } }

END { clear(@eg_start); clear(@in_start); }
`;
}

export async function bpftraceVersion(): Promise<string> {
  const { stdout } = await run('bpftrace', ['--version'], { timeoutMs: 10_000 });
  return stdout.trim();
}

export interface BpftraceRun {
  pid: number;
  /** the script's BPF programs (one per probe, in script order) */
  progIds: number[];
  /** the tracepoint each of progIds is attached to */
  tracepoints: string[];
  /** SIGINT, wait for the maps to be printed; returns bpftrace's output */
  stop(): Promise<string>;
}

const running = new Set<BpftraceRun>();

/** Stop every bpftrace this module started (cleanup on failure / SIGINT). */
export async function stopAllBpftrace(): Promise<void> {
  for (const r of [...running]) await r.stop().catch(() => undefined);
}

/**
 * Start bpftrace with the script in a private mount namespace with its own
 * tracefs; resolves once all probes are attached. Throws with bpftrace's own
 * error text when it cannot run.
 */
export async function startBpftrace(script: string, probes: number, timeoutMs = 30_000): Promise<BpftraceRun> {
  checkAborted();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'macebpf-bench-bt-'));
  const file = path.join(dir, 'correlate.bt');
  fs.writeFileSync(file, script);
  // unshare and sh exec in place: the pid we hold ends up being bpftrace's.
  const args = ['-m', '--propagation', 'private', 'sh', '-c', `{ [ -d ${TRACEFS}/events ] || mount -t tracefs nodev ${TRACEFS}; } && exec bpftrace "$0"`, file];
  const child: ChildProcess = spawn('unshare', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-65536)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-65536)));
  const exited = new Promise<void>((resolve) => {
    child.once('close', () => resolve());
    child.once('error', () => resolve());
  });
  const pid = child.pid;
  const cleanupDir = (): void => fs.rmSync(dir, { recursive: true, force: true });

  let stopping: Promise<string> | undefined;
  const handle: BpftraceRun = {
    pid: pid ?? -1,
    progIds: [],
    tracepoints: [],
    stop: () => {
      stopping ??= (async () => {
        if (isRunning(child)) {
          killChild(child, 'SIGINT');
          const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
          if (!done) {
            killChild(child, 'SIGKILL');
            await exited;
          }
        }
        running.delete(handle);
        cleanupDir();
        return out;
      })();
      return stopping;
    },
  };
  if (pid === undefined) {
    cleanupDir();
    await exited;
    throw new Error(`cannot start unshare/bpftrace: ${out.trim() || 'spawn failed'}`);
  }
  running.add(handle);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!isRunning(child)) {
      await handle.stop();
      checkAborted(); // stopped by our own cleanup, not a bpftrace failure
      throw new Error(`bpftrace exited (code ${child.exitCode}, signal ${child.signalCode}) before attaching: ${out.trim()}`);
    }
    const att = (await perfAttachments(pid).catch(() => [])).filter((a) => a.fdType === 'tracepoint');
    if (att.length >= probes) {
      handle.progIds = att.map((a) => a.progId);
      handle.tracepoints = att.map((a) => a.tracepoint);
      return handle;
    }
    if (Date.now() > deadline) {
      await handle.stop();
      throw new Error(`bpftrace did not attach ${probes} probes within ${timeoutMs} ms: ${out.trim()}`);
    }
    await sleep(50);
  }
}

/** Parse bpftrace's log2 histogram output into bucket → count, per map. */
export function parseHists(output: string): Record<string, Array<{ from: string; to: string; count: number }>> {
  const out: Record<string, Array<{ from: string; to: string; count: number }>> = {};
  let cur: string | undefined;
  for (const line of output.split('\n')) {
    const h = /^@(\w+):\s*$/.exec(line);
    if (h) {
      cur = h[1]!;
      out[cur] = [];
      continue;
    }
    const b = /^\[([^,]+),\s*([^)\]]+)[)\]]\s+(\d+)\s*\|/.exec(line);
    if (b && cur) out[cur]!.push({ from: b[1]!.trim(), to: b[2]!.trim(), count: Number(b[3]) });
  }
  return out;
}
