// http-api.ts - the daemon's HTTP endpoints (DESIGN §5). Every input is
// validated (core/protocol.ts schemas); a bad request gets a 4xx JSON error
// naming the field and the accepted form, and the server keeps serving.
// Mutations need the bearer token; reads need none.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { wallNs } from '../core/csv';
import { CsvQuery, EchoQuery, LimitBody, sinceEpochMs, TraceBody } from '../core/protocol';
import { pairEchoes, type EchoRecord } from '../core/rtt-join';
import type { StoredContainer } from '../core/store';
import type { Direction } from '../core/records';
import { discoverNamespaces } from '../host/discover';
import { Token } from './auth';
import type { ServerConfig } from './config';
import { csvHeaders, CsvStream } from './csv-stream';
import type { Daemon } from './daemon';
import { ApiError } from './errors';
import type { Metrics } from './metrics';
import { runMutation } from './mutations';
import type { Sampler } from './sampler';
import { serveStatic } from './static';

export interface HttpContext {
  daemon: Daemon;
  token: Token;
  config: ServerConfig;
  metrics: Metrics;
  sampler: Sampler;
  csvStreams: Set<CsvStream>;
  clients: () => number;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = ApiError.from(err);
  if (res.headersSent) {
    res.destroy(); // mid-stream: the only honest signal left
    return;
  }
  const headers: Record<string, string> = { ...e.headers, ...(e.code === 'unauthorized' ? { 'WWW-Authenticate': 'Bearer' } : {}) };
  if (e.code === 'too_large') headers.Connection = 'close';
  sendJson(res, e.status, { error: e.toJSON() }, headers);
}

// Reads a JSON body of at most limit bytes; an empty body is {}.
async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new ApiError('too_large', `request body of ${declared} bytes is over the limit of ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new ApiError('too_large', `request body is over the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new ApiError('bad_request', `Content-Type is ${JSON.stringify(type)}; send the body as application/json`, 'content-type');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError('bad_json', `request body is not JSON (${(e as Error).message}); e.g. {"rate":"100mbit","horizon":"10ms"}`);
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, whole: 'query' | 'body'): T {
  const r = schema.safeParse(value);
  if (!r.success) throw ApiError.invalid(r.error, whole);
  return r.data;
}

function requireToken(ctx: HttpContext, req: IncomingMessage): void {
  const given = Token.fromRequest(req);
  if (given === undefined) throw new ApiError('unauthorized', 'this request changes the daemon and needs "Authorization: Bearer TOKEN" (the token file serve printed at start)', 'authorization');
  if (!ctx.token.matches(given)) throw new ApiError('unauthorized', 'wrong bearer token: use the one in the token file serve printed at start', 'authorization');
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError('bad_request', `path segment ${JSON.stringify(s)} is not valid percent-encoding`, 'spec');
  }
}

function methodNotAllowed(allow: string[], method: string, path: string): never {
  throw new ApiError('method_not_allowed', `${method} is not allowed on ${path}; use ${allow.join(' or ')}`, undefined, { Allow: allow.join(', ') });
}

// Reads answer HEAD as GET (RFC 9110 §9.3.2): Node's response drops the body.
function readOnly(method: string, path: string): void {
  if (method !== 'GET' && method !== 'HEAD') methodNotAllowed(['GET', 'HEAD'], method, path);
}

const ICMP_PROTOCOLS = new Set([1, 58]);

// A container's ICMP echo records of one direction still in its ring.
function icmpRecords(c: StoredContainer, dir: Direction, sinceT: number): Array<EchoRecord & { seq: number }> {
  const cols = c.series[dir].ring.since(sinceT);
  const out: Array<EchoRecord & { seq: number }> = [];
  for (let i = 0; i < cols.t.length; i++) {
    if (ICMP_PROTOCOLS.has(cols.proto[i]!)) out.push({ seq: cols.packetId[i]!, t: cols.t[i]!, total: cols.total[i]!, stack: cols.stack[i]!, virt: cols.virt[i]! });
  }
  return out;
}

export async function handleHttp(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = req.method ?? 'GET';
  const path = url.pathname;
  const { daemon } = ctx;

  if (path === '/healthz') {
    readOnly(method, path);
    // degraded: serving, but the outer device went, so no record completes
    return sendJson(res, daemon.state === 'running' ? 200 : 503, {
      status: daemon.state !== 'running' ? daemon.state : daemon.outerPresent ? 'ok' : 'degraded',
      outer: { device: daemon.outer.name, netns: daemon.outer.netns.label, present: daemon.outerPresent },
      uptime_s: (Date.now() - daemon.startedMs) / 1000,
      traced: daemon.tracing.store.traced.length,
      clients: ctx.clients(),
    });
  }
  if (path === '/metrics') {
    readOnly(method, path);
    const text = await ctx.metrics.text();
    res.writeHead(200, { 'Content-Type': ctx.metrics.contentType, 'Cache-Control': 'no-store' });
    return void res.end(text);
  }
  if (path === '/monitor/statistics.json') {
    readOnly(method, path);
    return sendJson(res, 200, daemon.state === 'running' ? daemon.statistics.collect() : []);
  }
  if (path === '/api/containers') {
    readOnly(method, path);
    const summaries = new Map(ctx.sampler.latest.containers.map((s) => [s.netns, s]));
    const known = daemon.tracing.store.containers;
    const containers = known.map((c) => {
      const s = summaries.get(c.netns);
      const k = c.traced ? daemon.tracing.tracer.counters(c.index) : undefined;
      return {
        ...daemon.view(c),
        records: c.records,
        counters: k ? { egress: k.egress, ingress: k.ingress } : null,
        rates: s ? { egress: { pps: s.directions.egress.pps, bps: s.directions.egress.bps }, ingress: { pps: s.directions.ingress.pps, bps: s.directions.ingress.bps } } : null,
      };
    });
    // Not offered: what is known already (by spec for runtime names, by
    // inode for ip netns names) and the outer device's netns (untraceable).
    const specs = new Set(known.map((c) => c.spec));
    const inodes = new Set([...known.map((c) => c.netns), daemon.outer.netns.inode]);
    const candidates = (await discoverNamespaces(inodes)).filter((c) => !specs.has(c.spec));
    return sendJson(res, 200, { containers, candidates });
  }
  if (path === '/api/latencies.csv') {
    readOnly(method, path);
    const q = parse(CsvQuery, Object.fromEntries(url.searchParams), 'query');
    if ([...url.searchParams.keys()].length !== new Set(url.searchParams.keys()).size) throw new ApiError('bad_request', 'a query parameter is repeated; give each once');
    const c = daemon.container(q.container);
    if (method === 'HEAD') {
      // Without a body Node sends no chunked encoding, which trailers need.
      const { Trailer: _trailer, ...headers } = csvHeaders(c);
      res.writeHead(200, headers);
      return void res.end();
    }
    const dirs: Direction[] = q.direction === 'both' ? ['egress', 'ingress'] : [q.direction];
    const sinceT = q.since === undefined ? -Infinity : daemon.tracing.store.tOfWallMs(sinceEpochMs(q.since, Date.now()));
    const stream = new CsvStream(daemon, c, dirs, sinceT, res, q.follow === '1' && daemon.state === 'running');
    ctx.csvStreams.add(stream);
    await stream.done;
    ctx.csvStreams.delete(stream);
    return;
  }
  if (path === '/api/echoes') {
    readOnly(method, path);
    const q = parse(EchoQuery, Object.fromEntries(url.searchParams), 'query');
    const c = daemon.container(q.container);
    const store = daemon.tracing.store;
    const sinceT = q.since === undefined ? -Infinity : store.tOfWallMs(sinceEpochMs(q.since, Date.now()));
    const echoes = pairEchoes(icmpRecords(c, 'egress', sinceT), icmpRecords(c, 'ingress', sinceT)).map((e) => ({
      seq: e.seq,
      timestamp_ns: wallNs(store.baseNs, e.t).toString(),
      egress_ns: e.egressNs,
      ingress_ns: e.ingressNs,
      outer_ns: e.outerNs,
    }));
    return sendJson(res, 200, { container: c.label, echoes });
  }
  const m = /^\/api\/containers\/([^/]+)\/(trace|limit)$/.exec(path);
  if (m) {
    const name = decodeSegment(m[1]);
    const what = m[2];
    const allowed = what === 'trace' ? ['POST', 'DELETE'] : ['PUT', 'DELETE'];
    if (!allowed.includes(method)) methodNotAllowed(allowed, method, path);
    requireToken(ctx, req);
    const body = await readJson(req, ctx.config.maxMessageBytes);
    let view;
    if (what === 'trace' && method === 'POST') view = runMutation(daemon, { type: 'trace', spec: name, label: parse(TraceBody, body, 'body').label });
    else if (what === 'trace') view = runMutation(daemon, { type: 'untrace', container: daemon.containerBySpec(name).label });
    else if (method === 'PUT') view = runMutation(daemon, { type: 'limit', container: daemon.containerBySpec(name).label, ...parse(LimitBody, body, 'body') });
    else view = runMutation(daemon, { type: 'unlimit', container: daemon.containerBySpec(name).label });
    return sendJson(res, 200, { container: view });
  }
  if (path.startsWith('/api/')) throw new ApiError('not_found', `no endpoint ${path}; see GET /api/containers, /api/latencies.csv, /api/echoes, /monitor/statistics.json, /metrics, /healthz`);
  readOnly(method, path);
  return serveStatic(req, res, path);
}
