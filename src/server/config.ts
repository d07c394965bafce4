// config.ts - the daemon's settings and their defaults, merged once (DESIGN
// §5). Every bound the docs promise is one of these numbers.
import { MAX_CLIENT_MESSAGE_BYTES } from '../core/protocol';
import { DEFAULT_RING_CAPACITY, DEFAULT_WINDOW_S } from '../core/store';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8640;

export interface ServerConfig {
  host: string;
  port: number; // 0: a free port
  /** where the bearer token is written (0600); default /run/macebpf/serve-<port>.token */
  tokenFile?: string;
  /** records kept per container and direction */
  ringCapacity: number;
  /** seconds of the summaries' sliding window */
  windowS: number;
  /** summaries and rate samples, ms */
  summaryIntervalMs: number;
  /** a WebSocket client's unsent bytes beyond which its record frames are dropped */
  clientBufferBytes: number;
  /** JSON messages still queue up to this, then the client is disconnected (1008) */
  clientHardLimitBytes: number;
  maxClients: number;
  /** ping interval; a client that left two pings unanswered is ended (after 2-3 intervals) */
  heartbeatMs: number;
  maxMessageBytes: number;
}

export const DEFAULTS: Omit<ServerConfig, 'host' | 'port'> = {
  ringCapacity: DEFAULT_RING_CAPACITY,
  windowS: DEFAULT_WINDOW_S,
  summaryIntervalMs: 1000,
  clientBufferBytes: 4 << 20,
  clientHardLimitBytes: 8 << 20,
  maxClients: 32,
  heartbeatMs: 20_000,
  maxMessageBytes: MAX_CLIENT_MESSAGE_BYTES,
};

export function serverConfig(opts: Partial<ServerConfig> & Pick<ServerConfig, 'host' | 'port'>): ServerConfig {
  return { ...DEFAULTS, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) } as ServerConfig;
}

/** Bytes the WebSocket side can hold at most: every client at its hard limit. */
export function clientMemoryBound(c: ServerConfig): number {
  return c.maxClients * c.clientHardLimitBytes;
}
