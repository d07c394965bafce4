// The daemon's wire protocol (DESIGN §5), shared by the server, the dashboard
// and the tests: JSON messages in both directions on the WebSocket, the
// schemas that validate every client message and HTTP input, and the shapes
// of the replies. Binary record frames are in frame.ts. Pure: no Node API.
//
// Validation uses zod: maintained, typed (a schema is also the TypeScript
// type, so they cannot drift), and free of Node APIs, so web/ validates with
// the very same schemas.
import { z } from 'zod';
import { parseDuration, parseHorizon, parseRate } from './units';

export const PROTOCOL_VERSION = 1;
/** Largest client message (WebSocket frame or HTTP body) the server reads. */
export const MAX_CLIENT_MESSAGE_BYTES = 16 * 1024;

// ----- container specs -----------------------------------------------------

const NAME = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}';
const SPEC_FORMS = [
  [new RegExp(`^${NAME}$`), 'an `ip netns` name'],
  [/^pid:[1-9]\d{0,9}$/, 'pid:PID'],
  [new RegExp(`^(docker|podman):${NAME}$`), 'docker:NAME or podman:NAME'],
  [/^\/proc\/[1-9]\d{0,9}\/ns\/net$/, '/proc/PID/ns/net'],
  [new RegExp(`^/run/netns/${NAME}$`), '/run/netns/NAME'],
] as const;
export const SPEC_HELP = `a container spec: ${SPEC_FORMS.map(([, d]) => d).join(', ')}`;

/**
 * Whether text is a spec the daemon accepts from a client. Narrower than the
 * CLI's (any nsfs path): a remote client can name namespaces, never walk the
 * file system (`..`, other paths).
 */
export function specProblem(text: string): string | undefined {
  if (text.includes('..')) return `"${text}" contains "..": path traversal is not accepted; use ${SPEC_HELP}`;
  if (text === '.' || !SPEC_FORMS.some(([re]) => re.test(text))) return `"${text}" is not ${SPEC_HELP}`;
  return undefined;
}

// What to trace: a container the daemon knows (label, netns inode, the spec
// it was traced with), else a spec that specProblem accepts. Which of the
// two depends on the daemon's state, so the daemon checks (server/daemon.ts).
const spec = z.string().min(1, `name a known container or give ${SPEC_HELP}`).max(4096);

/**
 * Why text cannot be a container label given by a client: labels name
 * containers in CSV rows, metrics and the live table, so no control
 * characters or surrounding spaces, and not all digits (a name of that form
 * means a netns inode).
 */
export function labelProblem(text: string): string | undefined {
  if (text.length < 1 || text.length > 64) return `label ${JSON.stringify(text)} has ${text.length} characters; use 1 to 64`;
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(text)) return `label ${JSON.stringify(text)} contains a control character; use printable characters`;
  if (text.trim() !== text) return `label ${JSON.stringify(text)} starts or ends with a space`;
  if (/^\d+$/.test(text)) return `label ${JSON.stringify(text)} is all digits, which names a netns inode; add a letter`;
  return undefined;
}

const label = z.string().superRefine((s, ctx) => {
  const p = labelProblem(s);
  if (p) ctx.addIssue({ code: 'custom', message: p });
});

/** A traced container, by its label or its netns inode in decimal. */
const containerRef = z.string().min(1, 'name a container by label or netns inode').max(256);

const rate = z.string().superRefine((s, ctx) => {
  try {
    parseRate(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

const horizon = z.string().superRefine((s, ctx) => {
  try {
    parseHorizon(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

// ----- client -> server ----------------------------------------------------

const id = z.union([z.string().max(64), z.number().int().safe()], { error: 'give the id as a string of up to 64 characters or a safe integer' }).optional();

export const LimitBody = z.strictObject({ rate, horizon: horizon.optional() });
export type LimitBody = z.infer<typeof LimitBody>;
/** POST /api/containers/{spec}/trace body. */
export const TraceBody = z.strictObject({ label: label.optional() });

export const ClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('auth'), id, token: z.string().min(1).max(256) }),
  z.strictObject({ type: z.literal('subscribe'), id, containers: z.array(containerRef).max(256).nullable() }),
  z.strictObject({ type: z.literal('trace'), id, spec, ...TraceBody.shape }),
  z.strictObject({ type: z.literal('untrace'), id, container: containerRef }),
  z.strictObject({ type: z.literal('limit'), id, container: containerRef, rate, horizon: horizon.optional() }),
  z.strictObject({ type: z.literal('unlimit'), id, container: containerRef }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;
export const MUTATIONS: ReadonlySet<ClientMessage['type']> = new Set(['trace', 'untrace', 'limit', 'unlimit']);

/** GET /api/latencies.csv query. */
export const CsvQuery = z.strictObject({
  container: containerRef,
  direction: z.enum(['egress', 'ingress', 'both']).default('both'),
  /** epoch milliseconds, or a duration meaning "that long ago" (30s, 5m) */
  since: z
    .string()
    .superRefine((s, ctx) => {
      if (/^\d{12,}$/.test(s)) return;
      try {
        parseDuration(s, 'since');
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: `${(e as Error).message}, or epoch milliseconds (13 digits)` });
      }
    })
    .optional(),
  follow: z.enum(['0', '1']).default('1'),
});
export type CsvQuery = z.infer<typeof CsvQuery>;

/** GET /api/echoes query: a container's ICMP echoes with the parts to subtract. */
export const EchoQuery = CsvQuery.pick({ container: true, since: true });
export type EchoQuery = z.infer<typeof EchoQuery>;

/** Turns a validated `since` into epoch ms (nowMs for "that long ago" forms). */
export function sinceEpochMs(since: string | undefined, nowMs: number): number {
  if (since === undefined) return 0;
  if (/^\d{12,}$/.test(since)) return Number(since);
  return nowMs - parseDuration(since) / 1e6;
}

/** One line per problem, each named by its field; `whole` names the input itself (a WebSocket message, an HTTP body or query). */
export function describeIssues(error: z.ZodError, whole = 'message'): string {
  return error.issues
    .map((i) => {
      const where = i.path.length ? i.path.join('.') : whole;
      if ((i.code === 'invalid_union' && i.path.length === 0) || (i.path.length === 1 && i.path[0] === 'type')) return `${where}: unknown or missing "type"; use one of ${CLIENT_TYPES}`;
      if (i.code === 'unrecognized_keys') return `${where}: unknown field(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      return `${where}: ${i.message}`;
    })
    .filter((line, k, all) => all.indexOf(line) === k) // one check can fail twice (int and safe)
    .join('; ');
}
const CLIENT_TYPES = 'auth, subscribe, trace, untrace, limit, unlimit';

/** First field a validation error is about (undefined for the input itself). */
export function issueField(error: z.ZodError): string | undefined {
  const i = error.issues[0];
  if (!i) return undefined;
  const path = i.code === 'unrecognized_keys' ? [...i.path, i.keys[0]] : i.path;
  return path.join('.') || undefined;
}

// ----- server -> client ----------------------------------------------------

export type Direction = 'egress' | 'ingress';

export interface LimitView {
  rate_bytes_per_sec: number;
  horizon_ns: number;
  mode: 'fq' | 'police';
  dev: string;
}

/** A network namespace that could be traced (GET /api/containers' candidates). */
export interface Candidate {
  spec: string;
  source: 'ip-netns' | 'lab' | 'docker' | 'podman';
}

export interface ContainerView {
  label: string;
  netns: number;
  spec: string;
  traced: boolean;
  limit: LimitView | null;
}

export interface DirectionSummary {
  count: number; // records in the window
  p50: number | null; // ns over the window; null when empty
  p90: number | null;
  p99: number | null;
  p999: number | null;
  pps: number; // packets/s at the container device over the last interval
  bps: number; // bytes/s, likewise
  coverage: number | null; // records / packets since tracing began
  lost: number;
  unmatched: number;
  stale: number;
}

export interface LimitSummary extends LimitView {
  achieved_bytes_per_sec: number;
  delayed_packets: number;
  drops: number;
  backlog_bytes: number;
}

export interface ContainerSummary {
  container: string;
  netns: number;
  traced: boolean;
  directions: Record<Direction, DirectionSummary>;
  limit: LimitSummary | null;
}

export interface Hello {
  type: 'hello';
  version: number;
  server: 'macebpf';
  clocksource: string;
  serverTimeMs: number;
  /** wall-clock ns of store time 0, as a decimal string (frames carry it too) */
  baseNs: string;
  windowS: number;
  features: string[];
  authenticated: boolean;
  containers: ContainerView[];
}

export interface Summary {
  type: 'summary';
  serverTimeMs: number;
  containers: ContainerSummary[];
  /** ns of BPF run time per packet at traced containers' devices over the last interval; null while unknown */
  bpfNsPerPacket: number | null;
  /** this client's frames dropped because it did not keep up */
  dropped: { frames: number; records: number };
}

export interface ContainersChanged {
  type: 'containers';
  containers: ContainerView[];
}

export interface Reply {
  type: 'reply';
  id?: string | number;
  ok: true;
  result: unknown;
}

export interface ErrorReply {
  type: 'error';
  id?: string | number;
  /** bad_json, bad_message, unauthorized, not_found, conflict, failed, too_large */
  code: string;
  field?: string;
  message: string;
}

export type ServerMessage = Hello | Summary | ContainersChanged | Reply | ErrorReply;
