// daemon.ts - a real `macebpf serve` child for tests: started through the
// CLI as a user would, its port and token read from what it prints, and
// WebSocket clients that collect what the daemon sends.
import * as fs from 'node:fs';
import WebSocket from 'ws';
import { decodeFrame, type FrameColumns } from '../../src/core/frame';
import type { ServerMessage } from '../../src/core/protocol';
import { cli, until, type Cli } from './cli';

export interface Daemon {
  proc: Cli;
  port: number;
  token: string;
  base: string;
}

export async function startDaemon(args: string[], tokenFile: string, opts: { netns?: string; host?: string } = {}): Promise<Daemon> {
  const proc = cli(['serve', '--port', '0', '--token-file', tokenFile, ...args], opts.netns);
  await until('the daemon to listen', () => /serving http:\/\/\S+ \(port \d+\)/.test(proc.stderr()) || proc.child.exitCode !== null, 30_000);
  const m = /\(port (\d+)\)/.exec(proc.stderr());
  if (!m) throw new Error(`serve did not start: ${proc.stderr()}`);
  const port = Number(m[1]);
  return { proc, port, token: fs.readFileSync(tokenFile, 'utf8').trim(), base: `http://${opts.host ?? '127.0.0.1'}:${port}` };
}

export interface WsClient {
  ws: WebSocket;
  json: ServerMessage[];
  frames: FrameColumns[];
  frameBytes: number;
  closed: Promise<{ code: number; reason: string }>;
  /** Sends a message with an id and waits for the reply or error with that id. */
  request(msg: Record<string, unknown>): Promise<ServerMessage>;
  close(): void;
}

let nextId = 1;

export async function connect(port: number, opts: { query?: string; origin?: string } = {}): Promise<WsClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${opts.query ?? ''}`, opts.origin ? { origin: opts.origin } : {});
  const c: WsClient = {
    ws,
    json: [],
    frames: [],
    frameBytes: 0,
    closed: new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() }))),
    request: async (msg) => {
      const id = `t${nextId++}`;
      ws.send(JSON.stringify({ ...msg, id }));
      let found: ServerMessage | undefined;
      await until(`an answer to ${JSON.stringify(msg)}`, () => (found = c.json.find((m) => (m.type === 'reply' || m.type === 'error') && m.id === id)) !== undefined, 10_000);
      return found!;
    },
    close: () => ws.terminate(),
  };
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      const buf = data as Buffer;
      c.frameBytes += buf.length;
      c.frames.push(decodeFrame(buf));
    } else c.json.push(JSON.parse(data.toString()) as ServerMessage);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  await until('the hello', () => c.json.some((m) => m.type === 'hello'));
  return c;
}

/** Records of every frame received so far, as netns inodes. */
export function frameNetns(c: WsClient): number[] {
  return c.frames.flatMap((f) => [...f.netns]);
}

export async function http(base: string, path: string, init: RequestInit & { token?: string } = {}): Promise<{ status: number; text: string; json: () => unknown; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set('Authorization', `Bearer ${init.token}`);
  if (typeof init.body === 'string' && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  const res = await fetch(base + path, { ...init, headers });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text), headers: res.headers };
}

/** VmRSS of a process in bytes. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
