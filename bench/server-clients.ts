// server-clients.ts - the WebSocket clients of the server-cost benchmark
// (bench/server.ts), in a child process of their own so that their CPU is
// not counted as the daemon's. Connects N clients to the daemon, subscribes
// each to every container, decodes every binary frame with the dashboard's
// decoder and counts what arrived. Driven over the fork() IPC channel:
//
//   parent → child   { type: 'reset' }    zero the counters (answers 'reset')
//                    { type: 'report' }   answers with a ClientsReport
//   child → parent   { type: 'ready' }    all N clients connected and subscribed
//                    { type: 'failed', error }
//
//   node dist/bench/server-clients.js ws://127.0.0.1:PORT/ws N
import { WebSocket } from 'ws';
import { decodeFrame } from '../src/core/frame';

export interface ClientsReport {
  type: 'report';
  clients: number;
  /** binary frames received, over all clients */
  frames: number;
  /** their payload bytes (the record frames as encoded) */
  payloadBytes: number;
  /** WebSocket framing around them (2-10 bytes per server frame, unmasked) */
  headerBytes: number;
  /** records in the decoded frames, over all clients */
  records: number;
  /** per client: records received */
  perClient: number[];
  /** JSON messages (summaries, replies) received */
  jsonMessages: number;
  /** frames that did not decode (should stay 0) */
  badFrames: number;
  /** clients whose connection ended during the run */
  closed: number;
  /** CPU of this process (all clients) since the last reset, µs */
  cpuUs: number;
}

export type ParentMessage = { type: 'reset' } | { type: 'report' };
export type ChildMessage = { type: 'ready' } | { type: 'reset' } | { type: 'failed'; error: string } | ClientsReport;

/** Bytes of the header of an unmasked server-to-client WebSocket frame (RFC 6455 §5.2). */
function wsHeaderBytes(payload: number): number {
  return payload < 126 ? 2 : payload < 65536 ? 4 : 10;
}

interface Counts {
  frames: number;
  payloadBytes: number;
  headerBytes: number;
  records: number;
  jsonMessages: number;
  badFrames: number;
}

const zero = (): Counts => ({ frames: 0, payloadBytes: 0, headerBytes: 0, records: 0, jsonMessages: 0, badFrames: 0 });

function send(msg: ChildMessage): void {
  process.send?.(msg);
}

function connect(url: string, counts: Counts[], i: number, onClosed: () => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer'; // what a browser hands the dashboard
    let subscribed = false;
    ws.on('message', (data: ArrayBuffer | string, isBinary: boolean) => {
      const c = counts[i]!;
      if (isBinary && data instanceof ArrayBuffer) {
        c.frames++;
        c.payloadBytes += data.byteLength;
        c.headerBytes += wsHeaderBytes(data.byteLength);
        try {
          c.records += decodeFrame(data).length;
        } catch {
          c.badFrames++;
        }
        return;
      }
      c.jsonMessages++;
      const msg = JSON.parse(data.toString()) as { type: string; id?: unknown; ok?: boolean; message?: string };
      if (msg.type === 'hello') ws.send(JSON.stringify({ type: 'subscribe', id: 'all', containers: null }));
      else if (msg.id === 'all' && !subscribed) {
        if (msg.type !== 'reply' || !msg.ok) return reject(new Error(`subscribe refused: ${msg.message ?? JSON.stringify(msg)}`));
        subscribed = true;
        resolve(ws);
      }
    });
    ws.on('error', (e) => reject(e));
    ws.on('close', () => {
      if (!subscribed) reject(new Error('closed before subscribing'));
      else onClosed();
    });
  });
}

async function main(): Promise<void> {
  const [url, nArg] = process.argv.slice(2);
  const n = Number(nArg);
  if (!url || !Number.isInteger(n) || n < 0) throw new Error('usage: server-clients.js WS_URL N');
  const counts = Array.from({ length: n }, zero);
  let closed = 0;
  // Hold the sockets so nothing is collected while the parent measures.
  const sockets = await Promise.all(Array.from({ length: n }, (_, i) => connect(url, counts, i, () => closed++)));
  let cpu0 = process.cpuUsage();
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'reset') {
      for (let i = 0; i < counts.length; i++) counts[i] = zero(); // handlers look counts[i] up per message
      closed = 0;
      cpu0 = process.cpuUsage();
      send({ type: 'reset' });
    } else if (m.type === 'report') {
      const cpu = process.cpuUsage(cpu0);
      const sum = (k: keyof Counts): number => counts.reduce((s, c) => s + c[k], 0);
      send({
        type: 'report',
        clients: sockets.length,
        frames: sum('frames'),
        payloadBytes: sum('payloadBytes'),
        headerBytes: sum('headerBytes'),
        records: sum('records'),
        perClient: counts.map((c) => c.records),
        jsonMessages: sum('jsonMessages'),
        badFrames: sum('badFrames'),
        closed,
        cpuUs: cpu.user + cpu.system,
      });
    }
  });
  // The parent going away (even by SIGKILL) closes the channel: leave with it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

main().catch((e: unknown) => {
  send({ type: 'failed', error: (e as Error).message });
  process.exit(1);
});
