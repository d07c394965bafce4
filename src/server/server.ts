// server.ts - `macebpf serve` assembled (DESIGN §5): the daemon, HTTP and
// WebSocket on one port, the sampler's tick. Lifecycle: listen() → serving
// → close(): refuse new work, remove limits, drain the tracer (the last
// records reach WebSocket clients and CSV streams), end CSV streams, close
// clients with 1001, stop listening.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TracerOptions } from '../host/addon';
import type { OuterDevice } from '../host/iface';
import { defaultTokenFile, Token } from './auth';
import { clientMemoryBound, serverConfig, type ServerConfig } from './config';
import type { CsvStream } from './csv-stream';
import { Daemon } from './daemon';
import { ApiError } from './errors';
import { handleHttp, sendError } from './http-api';
import { Metrics } from './metrics';
import { Sampler } from './sampler';
import { WsHub } from './ws-hub';

export interface ServerOptions extends Partial<ServerConfig> {
  host: string;
  port: number;
  tracer?: TracerOptions;
  outer: OuterDevice;
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  const where = `${host}:${port}`;
  if (err.code === 'EADDRINUSE') return new Error(`cannot listen on ${where}: the port is in use (another macebpf serve?); pick another with --port, or --port 0 for any free one`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${where}: no interface of this host has address ${host}; use one it has, 127.0.0.1, or 0.0.0.0 / :: for all`);
  if (err.code === 'EACCES') return new Error(`cannot listen on ${where}: permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)`);
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return new Error(`cannot listen on ${where}: host name ${host} does not resolve; give an address`);
  return new Error(`cannot listen on ${where}: ${err.message}`);
}

export class Server {
  readonly config: ServerConfig;
  readonly daemon: Daemon;
  readonly token = new Token();
  /** where the token is, once listening (its default name has the bound port) */
  tokenFile = '';
  readonly hub: WsHub;
  readonly sampler: Sampler;
  readonly metrics: Metrics;
  private readonly http: http.Server;
  private readonly csvStreams = new Set<CsvStream>();
  private tick: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(opts: ServerOptions) {
    this.config = serverConfig(opts);
    this.daemon = new Daemon(this.config, opts.tracer ?? {}, opts.outer);
    this.hub = new WsHub(this.daemon, this.token, this.config);
    this.sampler = new Sampler(this.daemon);
    this.metrics = new Metrics(this.daemon, this.sampler, () => ({ clients: this.hub.count, droppedFrames: this.hub.droppedFrames, droppedRecords: this.hub.droppedRecords }));
    const ctx = { daemon: this.daemon, token: this.token, config: this.config, metrics: this.metrics, sampler: this.sampler, csvStreams: this.csvStreams, clients: () => this.hub.count };
    this.http = http.createServer({ requestTimeout: 0, headersTimeout: 10_000 }, (req, res) => {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        return sendError(res, new ApiError('bad_request', `malformed request target ${JSON.stringify(req.url)}`));
      }
      handleHttp(ctx, req, res, url).catch((err: unknown) => sendError(res, err));
    });
    this.http.on('upgrade', (req, socket, head) => {
      socket.on('error', () => socket.destroy());
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        return socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      }
      if (url.pathname !== '/ws') return socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nWebSocket endpoint is /ws\n');
      this.hub.upgrade(req, socket, head, url);
    });
    this.http.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Starts listening and sampling; writes the token file. Resolves with the bound port. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, this.config.host, this.config.port)));
      this.http.listen(this.config.port, this.config.host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    const port = (this.http.address() as AddressInfo).port;
    this.tokenFile = this.config.tokenFile ?? defaultTokenFile(port);
    this.token.write(this.tokenFile);
    this.sampler.sample();
    this.tick = setInterval(() => {
      if (this.daemon.state !== 'running') return;
      this.daemon.checkGone();
      const s = this.sampler.sample();
      this.hub.summarize(s.containers, s.bpfNsPerPacket, s.atMs);
    }, this.config.summaryIntervalMs);
    return port;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo | null;
    const host = a ? (a.family === 'IPv6' ? `[${a.address}]` : a.address) : this.config.host;
    return `http://${host}:${a?.port ?? this.config.port}/`;
  }

  /** The most memory WebSocket clients can make the server hold (README). */
  get clientMemoryBound(): number {
    return clientMemoryBound(this.config);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.tick);
      this.http.close(); // no new connections
      try {
        await this.daemon.close();
      } finally {
        await Promise.all([...this.csvStreams].map((s) => s.finish()));
        await this.hub.close();
        this.http.closeAllConnections();
        if (this.tokenFile) Token.remove(this.tokenFile);
      }
    })();
    return this.closing;
  }
}
