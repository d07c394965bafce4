// static.ts - the dashboard's files (web/, built into dist/web by npm
// install), served read-only from that one directory: no path outside it
// can be named, whatever the URL says.
import * as fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { ApiError } from './errors';

export const WEB_ROOT = path.resolve(__dirname, '../../web');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

const PLACEHOLDER = `<!doctype html><meta charset="utf-8"><title>macebpf</title>
<h1>macebpf daemon</h1><p>The dashboard is not built (run <code>npm install</code>). The API is here:</p>
<ul><li><a href="/api/containers">/api/containers</a></li><li><a href="/monitor/statistics.json">/monitor/statistics.json</a></li>
<li><a href="/metrics">/metrics</a></li><li><a href="/healthz">/healthz</a></li><li>WebSocket: /ws</li></ul>`;

export function serveStatic(req: IncomingMessage, res: ServerResponse, urlPath: string): void {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    throw new ApiError('bad_request', `path ${JSON.stringify(urlPath)} is not valid percent-encoding`);
  }
  if (rel.includes('\0')) throw new ApiError('bad_request', 'path contains a NUL byte');
  if (rel === '/' || rel === '') rel = '/index.html';
  const file = path.resolve(WEB_ROOT, '.' + path.posix.normalize(rel));
  if (!file.startsWith(WEB_ROOT + path.sep)) throw new ApiError('not_found', `no file ${urlPath}`);
  let body: Buffer;
  try {
    body = fs.readFileSync(file);
  } catch {
    if (rel === '/index.html') {
      res.writeHead(200, { 'Content-Type': TYPES['.html'] });
      return void res.end(req.method === 'HEAD' ? undefined : PLACEHOLDER);
    }
    throw new ApiError('not_found', `no file ${urlPath}`);
  }
  res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
  res.end(req.method === 'HEAD' ? undefined : body);
}
