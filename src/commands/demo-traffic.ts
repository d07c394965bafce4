// demo-traffic.ts - the traffic mix `macebpf demo` keeps flowing, so every
// part of the dashboard has something to show (issue 7): from every
// container ping over IPv4 and IPv6; from the first a UDP request/response
// flow (a small echo server in the target, one request in flight at a time,
// so each record pairs with its reply); from the last a TCP bulk flow
// (iperf3, paced by the sender so the record rate stays within the
// dashboard's point budget). Each generator is restarted when it ends and
// killed by pid on shutdown (exec.ts track()).
import { spawn, type ChildProcess } from 'node:child_process';
import { isRunning, killChild, netnsArgv, track } from '../lab/exec';
import { startIperfServer, type IperfServer } from '../lab/traffic';
import type { Lab } from '../lab/types';

const PING_INTERVAL_S = '0.1';
const UDP_PORT = 7007;
const UDP_INTERVAL_MS = 20;
const IPERF_PORT = 5201;
/** Sender-paced TCP: well above the demo's limit, far below veth speed. */
export const BULK_BITRATE = '40M';
const RESTART_DELAY_MS = 1000;

// The UDP echo server and client run as `node -e` in a namespace: node is
// there for sure (it runs this), unlike nc/socat whose flavours differ.
const UDP_SERVER = `
const s = require('dgram').createSocket({ type: 'udp6', ipv6Only: false });
s.on('message', (m, r) => s.send(m, r.port, r.address));
s.bind(${UDP_PORT});`;

const udpClient = (target: string): string => `
const s = require('dgram').createSocket(${JSON.stringify(target.includes(':') ? 'udp6' : 'udp4')});
const req = Buffer.alloc(64);
let seq = 0, timer;
const next = () => { clearTimeout(timer); setTimeout(send, ${UDP_INTERVAL_MS}); };
const send = () => { req.writeUInt32BE(seq++, 0); s.send(req, ${UDP_PORT}, ${JSON.stringify(target)}); timer = setTimeout(next, 1000); };
s.on('message', next);
send();`;

export interface DemoTraffic {
  /** container name -> what it sends, for the start-up message */
  mix: Map<string, string[]>;
  /** the container with the TCP bulk flow (the one the demo limits) */
  bulk: string;
  stop(): Promise<void>;
}

/** Keeps `ip netns exec ns cmd args…` running until stop(), restarting it when it exits. */
function keep(ns: string, cmd: string, args: string[], running: Set<ChildProcess>, stopped: () => boolean): void {
  const start = (): void => {
    if (stopped()) return;
    const child = spawn(...netnsArgv(ns, cmd, args), { stdio: 'ignore' });
    track(child);
    running.add(child);
    child.once('error', () => undefined); // reported by the exit below
    child.once('exit', () => {
      running.delete(child);
      if (!stopped()) setTimeout(start, RESTART_DELAY_MS).unref();
    });
  };
  start();
}

export async function startDemoTraffic(lab: Lab): Promise<DemoTraffic> {
  let stopping = false;
  const stopped = (): boolean => stopping;
  const running = new Set<ChildProcess>();
  const tgt = lab.target;
  const iperf: IperfServer = await startIperfServer(tgt.name, { port: IPERF_PORT });
  keep(tgt.name, process.execPath, ['-e', UDP_SERVER], running, stopped);
  const mix = new Map<string, string[]>();
  const last = lab.containers.length - 1;
  for (const [i, c] of lab.containers.entries()) {
    const flows: string[] = [];
    keep(c.name, 'ping', ['-n', '-q', '-i', PING_INTERVAL_S, tgt.ip4], running, stopped);
    keep(c.name, 'ping', ['-n', '-q', '-6', '-i', PING_INTERVAL_S, tgt.ip6], running, stopped);
    flows.push(`ping ${tgt.ip4} and ${tgt.ip6} every ${PING_INTERVAL_S} s`);
    if (i === 0 || i !== last) {
      keep(c.name, process.execPath, ['-e', udpClient(tgt.ip4)], running, stopped);
      flows.push(`UDP request/response to ${tgt.ip4}:${UDP_PORT} every ${UDP_INTERVAL_MS} ms`);
    }
    if (i === last) {
      // -t: an hour per run (restarted after); --connect-timeout so a lost
      // target shows as restarts, not a hang.
      // --fq-rate paces the socket too (TCP's own pacing, no fq needed): -b
      // alone averages since the start and bursts at line rate to catch up
      // after a limit held it back.
      keep(c.name, 'iperf3', ['-c', tgt.ip4, '-p', String(IPERF_PORT), '-t', '3600', '-b', BULK_BITRATE, '--fq-rate', BULK_BITRATE, '--connect-timeout', '3000'], running, stopped);
      flows.push(`TCP bulk to ${tgt.ip4}:${IPERF_PORT} (iperf3, ${BULK_BITRATE}bit/s offered)`);
    }
    mix.set(c.name, flows);
  }
  return {
    mix,
    bulk: lab.containers[last].name,
    stop: async () => {
      stopping = true;
      for (const child of running) if (isRunning(child)) killChild(child, 'SIGKILL');
      await iperf.stop();
    },
  };
}
