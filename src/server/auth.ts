// auth.ts - access control (DESIGN §5): a random bearer token per start,
// written to a file only root can read; every mutation needs it. Read-only
// endpoints need none. WebSocket upgrades from a foreign Origin are refused
// (a page elsewhere must not drive the daemon through the user's browser).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import * as path from 'node:path';

export const TOKEN_DIR = '/run/macebpf';

export function defaultTokenFile(port: number): string {
  return path.join(TOKEN_DIR, `serve-${port}.token`);
}

export class Token {
  readonly value = randomBytes(24).toString('base64url');

  /** Writes the token to file, readable by its owner only (created 0600, never widened). */
  write(file: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, this.value + '\n', { mode: 0o600 });
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, file);
  }

  matches(candidate: string | undefined): boolean {
    if (candidate === undefined) return false;
    const a = Buffer.from(candidate);
    const b = Buffer.from(this.value);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  static remove(file: string): void {
    fs.rmSync(file, { force: true });
  }

  /** The token of an `Authorization: Bearer …` header, if any. */
  static fromRequest(req: IncomingMessage): string | undefined {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return m?.[1];
  }
}

/**
 * Same-origin check of a WebSocket upgrade: a request without Origin (not a
 * browser) is allowed; a browser's Origin must name the host it connected to.
 */
export function originAllowed(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === req.headers.host;
}
