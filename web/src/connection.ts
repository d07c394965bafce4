// connection.ts - the dashboard's one WebSocket to the daemon (/ws): JSON
// messages (core/protocol.ts) and binary record frames (core/frame.ts, the
// server's own decoder), requests answered by id, and reconnection with
// capped backoff when the daemon goes away. The token is sent as an auth
// message after the hello (not in the URL), so a wrong token gets a clear
// error instead of a refused upgrade that looks like a dead daemon.
import { decodeFrame, type FrameColumns } from '../../src/core/frame';
import type { ClientMessage, ErrorReply, Reply, ServerMessage } from '../../src/core/protocol';

export type LinkState =
  | { kind: 'connecting'; attempt: number }
  | { kind: 'open'; authenticated: boolean }
  | { kind: 'closed'; reason: string; retryAtMs: number; attempt: number };

export interface ConnectionEvents {
  state(s: LinkState): void;
  message(m: ServerMessage): void;
  frame(f: FrameColumns): void;
}

const BACKOFF_MS = [250, 500, 1000, 2000, 3000];
const REQUEST_TIMEOUT_MS = 10_000;

type Pending = { resolve: (r: Reply) => void; reject: (e: ErrorReply) => void; timer: number };

/** A request's failure, carrying the daemon's error reply (code, field, message). */
export class RequestError extends Error {
  constructor(readonly reply: ErrorReply) {
    super(reply.message);
  }
}

export class Connection {
  private ws: WebSocket | undefined;
  private attempt = 0;
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private stateValue: LinkState = { kind: 'connecting', attempt: 0 };

  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly on: ConnectionEvents,
  ) {}

  get state(): LinkState {
    return this.stateValue;
  }

  start(): void {
    this.open();
  }

  /** Sends a client message and resolves with its reply; rejects with RequestError on an error reply. */
  request(msg: DistributiveOmit<ClientMessage, 'id'>): Promise<Reply> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new RequestError({ type: 'error', code: 'disconnected', message: 'not connected to the daemon; wait for the reconnect and try again' }));
    }
    const id = `w${this.nextId++}`;
    return new Promise<Reply>((resolve, reject) => {
      const timer = window.setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError({ type: 'error', id, code: 'timeout', message: `the daemon did not answer "${msg.type}" within ${REQUEST_TIMEOUT_MS / 1000} s` }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject: (e) => reject(new RequestError(e)), timer });
      ws.send(JSON.stringify({ ...msg, id }));
    });
  }

  private setState(s: LinkState): void {
    this.stateValue = s;
    this.on.state(s);
  }

  private open(): void {
    this.setState({ kind: 'connecting', attempt: this.attempt });
    const ws = new WebSocket(this.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onmessage = (ev: MessageEvent<ArrayBuffer | string>) => {
      if (typeof ev.data !== 'string') return this.on.frame(decodeFrame(ev.data));
      const msg = JSON.parse(ev.data) as ServerMessage;
      if (msg.type === 'hello') this.greeted(msg.authenticated);
      if ((msg.type === 'reply' || msg.type === 'error') && typeof msg.id === 'string' && this.pending.has(msg.id)) {
        const p = this.pending.get(msg.id)!;
        this.pending.delete(msg.id);
        window.clearTimeout(p.timer);
        if (msg.type === 'reply') p.resolve(msg);
        else p.reject(msg);
      }
      this.on.message(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      for (const [id, p] of this.pending) {
        window.clearTimeout(p.timer);
        p.reject({ type: 'error', id, code: 'disconnected', message: 'the connection to the daemon closed before it answered' });
      }
      this.pending.clear();
      const delay = BACKOFF_MS[Math.min(this.attempt, BACKOFF_MS.length - 1)];
      this.attempt++;
      const reason = ev.code === 1001 ? 'the daemon shut down' : ev.reason || (ev.code === 1006 ? 'no daemon answers at this address' : `closed with code ${ev.code}`);
      this.setState({ kind: 'closed', reason, retryAtMs: Date.now() + delay, attempt: this.attempt });
      window.setTimeout(() => this.open(), delay);
    };
  }

  private greeted(authenticated: boolean): void {
    this.attempt = 0;
    this.setState({ kind: 'open', authenticated });
    this.ws?.send(JSON.stringify({ type: 'subscribe', containers: null }));
    if (this.token === undefined || authenticated) return;
    this.request({ type: 'auth', token: this.token }).then(
      () => this.setState({ kind: 'open', authenticated: true }),
      () => undefined, // the error reply reaches on.message, which shows it
    );
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
