// ws-hub.ts - the WebSocket side of the daemon (DESIGN §5): a JSON hello,
// JSON summaries every interval, binary record frames (core/frame.ts) for
// the containers a client subscribed to, and JSON control messages answered
// with a reply or an error naming the problem. A client that does not keep
// up loses record frames (counted, and reported to it in its summaries), never
// the server's memory: past clientBufferBytes unsent, frames are dropped;
// past clientHardLimitBytes, the client is disconnected. A heartbeat ends
// clients that left two pings unanswered (after 2-3 heartbeat intervals).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { encodeFrame } from '../core/frame';
import { ClientMessage, MUTATIONS, PROTOCOL_VERSION, type ContainerSummary, type Hello, type ServerMessage } from '../core/protocol';
import type { RecordColumns } from '../core/records';
import type { Token } from './auth';
import { originAllowed } from './auth';
import type { ServerConfig } from './config';
import type { Daemon } from './daemon';
import { ApiError } from './errors';
import { runMutation } from './mutations';

const HEARTBEAT_MISSES = 2;

/** Close codes (RFC 6455 and the private range). */
export const CLOSE = { goingAway: 1001, policy: 1008, tooBig: 1009, overloaded: 1013, unresponsive: 4000 } as const;

class Client {
  authenticated: boolean;
  /** netns inodes, or null for every container; key names the set, so clients with equal sets share one frame encoding */
  private subscribed: Set<number> | null = null;
  key = '*';
  droppedFrames = 0;
  droppedRecords = 0;
  missedPongs = 0;

  constructor(
    readonly ws: WebSocket,
    authenticated: boolean,
  ) {
    this.authenticated = authenticated;
  }

  get subscription(): Set<number> | null {
    return this.subscribed;
  }

  set subscription(netns: Set<number> | null) {
    this.subscribed = netns;
    this.key = netns ? [...netns].sort().join(',') : '*';
  }
}

export class WsHub {
  private readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly heartbeat: NodeJS.Timeout;
  droppedFrames = 0;
  droppedRecords = 0;

  constructor(
    private readonly daemon: Daemon,
    private readonly token: Token,
    private readonly config: ServerConfig,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.maxMessageBytes, clientTracking: false });
    daemon.on('records', (cols, t) => this.broadcastRecords(cols, t));
    daemon.on('containers', () => this.broadcastJson({ type: 'containers', containers: daemon.views() }));
    this.heartbeat = setInterval(() => this.beat(), config.heartbeatMs);
    this.heartbeat.unref();
  }

  get count(): number {
    return this.clients.size;
  }

  /** HTTP upgrade on /ws: refuses foreign origins and a full house before the handshake. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    const refuse = (status: number, reason: string): void => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${reason}\n`);
    };
    if (!originAllowed(req)) return refuse(403, `Forbidden: WebSocket from origin ${req.headers.origin} refused; connect from the daemon's own page`);
    if (this.daemon.state !== 'running') return refuse(503, 'Service Unavailable: the daemon is shutting down');
    if (this.clients.size >= this.config.maxClients) return refuse(503, `Service Unavailable: ${this.config.maxClients} clients already connected`);
    const queryToken = url.searchParams.get('token') ?? undefined;
    if (queryToken !== undefined && !this.token.matches(queryToken)) return refuse(401, 'Unauthorized: wrong token in ?token=');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.connected(ws, queryToken !== undefined));
  }

  /** Summaries of one sampling interval, each client's filtered to its subscription. */
  summarize(containers: ContainerSummary[], bpfNsPerPacket: number | null, atMs: number): void {
    for (const c of this.clients) {
      const mine = c.subscription ? containers.filter((s) => c.subscription!.has(s.netns)) : containers;
      this.send(c, { type: 'summary', serverTimeMs: atMs, containers: mine, bpfNsPerPacket, dropped: { frames: c.droppedFrames, records: c.droppedRecords } });
    }
  }

  /** Closes every client with `code` after what is queued for it was sent. */
  async close(code: number = CLOSE.goingAway, reason = 'daemon shutting down'): Promise<void> {
    clearInterval(this.heartbeat);
    await Promise.all(
      [...this.clients].map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.ws.readyState === WebSocket.CLOSED) return resolve();
            const timer = setTimeout(() => {
              c.ws.terminate();
              resolve();
            }, 2000); // a client that does not answer the close handshake
            c.ws.once('close', () => {
              clearTimeout(timer);
              resolve();
            });
            c.ws.close(code, reason);
          }),
      ),
    );
    this.clients.clear();
  }

  private connected(ws: WebSocket, authenticated: boolean): void {
    const c = new Client(ws, authenticated);
    this.clients.add(c);
    ws.on('pong', () => (c.missedPongs = 0));
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary));
    ws.on('close', () => this.clients.delete(c));
    ws.on('error', () => this.clients.delete(c)); // e.g. oversized frame: ws closes with 1009 itself
    const hello: Hello = {
      type: 'hello',
      version: PROTOCOL_VERSION,
      server: 'macebpf',
      clocksource: this.daemon.clocksource,
      serverTimeMs: Date.now(),
      baseNs: this.daemon.tracing.store.baseNs.toString(),
      windowS: this.config.windowS,
      features: this.daemon.features,
      authenticated,
      containers: this.daemon.views(),
    };
    this.send(c, hello);
  }

  private onMessage(c: Client, data: RawData, isBinary: boolean): void {
    let id: string | number | undefined;
    try {
      if (isBinary) throw new ApiError('bad_request', 'binary messages are not accepted from clients: send JSON text, e.g. {"type":"subscribe","containers":null}');
      let json: unknown;
      try {
        json = JSON.parse(data.toString());
      } catch (e) {
        throw new ApiError('bad_json', `message is not JSON (${(e as Error).message}); send e.g. {"type":"subscribe","containers":null}`);
      }
      if (json && typeof json === 'object' && 'id' in json && (typeof json.id === 'string' || typeof json.id === 'number')) id = json.id;
      const parsed = ClientMessage.safeParse(json);
      if (!parsed.success) throw ApiError.invalid(parsed.error);
      const msg = parsed.data;
      if (msg.type === 'auth') {
        if (!this.token.matches(msg.token)) throw new ApiError('unauthorized', 'wrong token: use the one in the file serve printed at start', 'token');
        c.authenticated = true;
        return this.send(c, { type: 'reply', id, ok: true, result: { authenticated: true } });
      }
      if (msg.type === 'subscribe') {
        c.subscription = msg.containers === null ? null : new Set(msg.containers.map((name) => this.daemon.container(name).netns));
        return this.send(c, { type: 'reply', id, ok: true, result: { containers: msg.containers } });
      }
      if (MUTATIONS.has(msg.type) && !c.authenticated) {
        throw new ApiError('unauthorized', `"${msg.type}" changes the daemon and needs the token: send {"type":"auth","token":…} first, or connect with ?token=`, 'token');
      }
      const result = runMutation(this.daemon, msg);
      this.send(c, { type: 'reply', id, ok: true, result });
    } catch (err) {
      const e = ApiError.from(err);
      this.send(c, { type: 'error', id, ...e.toJSON() });
    }
  }

  private broadcastRecords(cols: RecordColumns, t: Float64Array): void {
    if (!this.clients.size || !cols.length) return;
    const base = this.daemon.tracing.store.baseNs;
    const frames = new Map<string, { buf: ArrayBuffer; n: number } | null>(); // one encoding per distinct subscription
    for (const c of this.clients) {
      let f = frames.get(c.key);
      if (f === undefined) {
        let which: number[] | undefined;
        if (c.subscription) {
          which = [];
          for (let i = 0; i < cols.length; i++) if (c.subscription.has(cols.netns[i])) which.push(i);
        }
        const n = which ? which.length : cols.length;
        f = n ? { buf: encodeFrame(cols, t, base, which), n } : null;
        frames.set(c.key, f);
      }
      if (!f) continue;
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      if (c.ws.bufferedAmount + f.buf.byteLength > this.config.clientBufferBytes) {
        c.droppedFrames++;
        c.droppedRecords += f.n;
        this.droppedFrames++;
        this.droppedRecords += f.n;
        continue;
      }
      c.ws.send(f.buf, { binary: true });
    }
  }

  private broadcastJson(msg: ServerMessage): void {
    for (const c of this.clients) this.send(c, msg);
  }

  private send(c: Client, msg: ServerMessage): void {
    if (c.ws.readyState !== WebSocket.OPEN) return;
    if (c.ws.bufferedAmount > this.config.clientHardLimitBytes) {
      c.ws.terminate(); // not reading even its small JSON messages: memory beats completeness
      this.clients.delete(c);
      return;
    }
    c.ws.send(JSON.stringify(msg));
  }

  private beat(): void {
    for (const c of this.clients) {
      // Two unanswered pings: gone (a client that only paused reading for
      // less than that answers once it reads again, and hears of its drops).
      if (c.missedPongs >= HEARTBEAT_MISSES) {
        c.ws.terminate();
        this.clients.delete(c);
        continue;
      }
      c.missedPongs++;
      c.ws.ping();
    }
  }
}
