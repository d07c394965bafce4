// options.ts - every command's options, parsed and converted in one place
// (DESIGN §5). Units go through core/units so "10s" means the same everywhere.
import { parseArgs } from 'node:util';
import { parseDuration, parseHorizon, parseRate } from '../core/units';
import type { TracerOptions } from '../host/addon';
import type { LimitArgs } from './limit';
import type { PingArgs } from './ping';
import type { StatsArgs } from './stats';
import type { TraceArgs } from './trace';
import type { DemoArgs } from './demo';
import type { ServeArgs } from './serve';
import { DEFAULT_HOST, DEFAULT_PORT } from '../server/config';

export const USAGE = `usage: macebpf <command> [options]

commands:
  trace --netns SPEC [--netns SPEC...] [--outer IFACE] [--outer-netns SPEC]
        [--duration S] [--csv FILE] [--inflight N] [--max-age DUR] [--no-sockets]
                       trace containers: live table on a TTY, CSV of every record
  ping --netns SPEC [-c N] [-i S] [-s SIZE] [-4|-6] [--outer IFACE]
       [--outer-netns SPEC] [--csv FILE] TARGET
                       ping from a container: raw RTT, the container's parts,
                       the corrected RTT and the outer-device RTT per echo
  limit --netns SPEC --rate RATE [--dev IFACE] [--horizon DUR] [--duration S]
                       EDT egress rate limit of a container until Ctrl-C; prints
                       achieved rate and drops. RATE: Mesos bytes/s (37500KB,
                       100MB) or tc bits/s (300mbit, 1gbit)
  stats --netns SPEC [--netns SPEC...] [--interval DUR] [--count N]
                       Mesos-style statistics JSON (net_*, bw_limit, latency)
  serve [--host 127.0.0.1] [--port 8640] [--netns SPEC...] [--outer IFACE]
        [--outer-netns SPEC] [--token-file PATH] [--duration S] [--inflight N]
        [--max-age DUR] [--no-sockets]
                       daemon: HTTP + WebSocket API, dashboard, /metrics,
                       /monitor/statistics.json; tracing and limits switched
                       at run time
  demo [--containers N] [--duration S] [--host H] [--port P]
                       build the lab, send traffic, serve and trace it (npm start)
  lab up [--containers N] | lab down [ID...] | lab list
                       the lab topology alone (network namespaces, bridge, NAT)

SPEC: an ip netns name, a netns path (/run/netns/x, /proc/N/ns/net) or pid:N.
--outer defaults to the device of the default route in --outer-netns, which
defaults to the caller's netns. Durations: 10, 10s, 500ms, 2m. --csv -: the
CSV to stdout, the table to stderr.`;

export type Command =
  | { name: 'trace'; args: TraceArgs }
  | { name: 'limit'; args: LimitArgs }
  | { name: 'stats'; args: StatsArgs }
  | { name: 'serve'; args: ServeArgs }
  | { name: 'ping'; args: PingArgs }
  | { name: 'demo'; args: DemoArgs }
  | { name: 'lab'; action: 'up'; containers: number }
  | { name: 'lab'; action: 'down'; ids: string[] }
  | { name: 'lab'; action: 'list' }
  | { name: 'help' };

function positiveInt(text: string, what: string, max: number, min = 1): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`invalid ${what} "${text}": use a whole number from ${min} to ${max}`);
  return n;
}

const durationOpt = (text: string | undefined, what: string): number | undefined =>
  text === undefined ? undefined : parseDuration(text, what);

const horizonOpt = (text: string | undefined): number | undefined => (text === undefined ? undefined : parseHorizon(text, '--horizon'));

const TRACER_OPTIONS = {
  inflight: { type: 'string' },
  'max-age': { type: 'string' },
  'no-sockets': { type: 'boolean' },
} as const;

// The addon's bounds (native/tracer.cc), checked here so that the error names
// the option the user typed, not the addon's field.
const INFLIGHT_MIN = 64;
const INFLIGHT_MAX = 1 << 24;
const MAX_AGE_MIN_NS = 1e3;
const MAX_AGE_MAX_NS = 4e9; // records hold latencies as u32 ns
// Statistics are deltas: a shorter interval would print empty ones in a busy loop.
const STATS_INTERVAL_MIN_NS = 10e6;

function maxAgeOpt(text: string | undefined): number | undefined {
  const ns = durationOpt(text, '--max-age');
  if (ns !== undefined && (ns < MAX_AGE_MIN_NS || ns > MAX_AGE_MAX_NS)) {
    throw new Error(`invalid --max-age "${text}": use a duration from 1us to 4s (records hold latencies as 32-bit ns)`);
  }
  return ns;
}

function statsInterval(text: string | undefined): number {
  const ns = durationOpt(text, '--interval') ?? 1e9;
  if (ns < STATS_INTERVAL_MIN_NS) throw new Error(`invalid --interval "${text}": use a duration of at least 10ms (each sample is the change since the one before)`);
  return ns;
}

function tracerOpts(values: { inflight?: string; 'max-age'?: string; 'no-sockets'?: boolean }): TracerOptions {
  return {
    inflightEntries: values.inflight === undefined ? undefined : positiveInt(values.inflight, '--inflight', INFLIGHT_MAX, INFLIGHT_MIN),
    maxAgeNs: maxAgeOpt(values['max-age']),
    sockets: !values['no-sockets'],
  };
}

// ping's own bounds for root: every 2 ms at most often, or 0: back to back
// (the next request leaves when the reply is in).
function pingInterval(text: string): number {
  const s = parseDuration(text, '-i') / 1e9;
  if ((s !== 0 && s < 0.002) || s > 3600) throw new Error(`invalid -i "${text}": use 0 (back to back) or seconds from 0.002 to 3600, e.g. 0.2 or 10ms`);
  return s;
}

// The payload must hold ping's 16-byte timestamp for RTTs to be printed.
function pingSize(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 16 || n > 65507) throw new Error(`invalid -s "${text}": use a payload size from 16 to 65507 bytes (ping needs 16 for its timestamp)`);
  return n;
}

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

// util.parseArgs takes a value that starts with a dash ("--rate -5mbit",
// "-c -1") for an option of its own and refuses it as ambiguous. Such a value
// is joined to its option here, so that macebpf's own check says what is
// wrong with it ("it is negative") instead of the parser's advice.
function joinDashValues(args: readonly string[], options: Record<string, OptionSpec>): string[] {
  const byShort = new Map(Object.entries(options).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const next = args[i + 1];
    const name = a.startsWith('--') ? a.slice(2) : /^-[^-]$/.test(a) ? byShort.get(a[1]!) : undefined;
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

function parse<O extends Record<string, OptionSpec>>(args: readonly string[], options: O, allowPositionals = false) {
  return parseArgs({ args: joinDashValues(args, options), options, strict: true, allowPositionals });
}

const SERVER_OPTIONS = { host: { type: 'string' }, port: { type: 'string' } } as const;

function serverOpts(values: { host?: string; port?: string }): { host: string; port: number } {
  const host = values.host ?? DEFAULT_HOST;
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw new Error(`invalid --host "${host}": use an IP address or a host name, e.g. 127.0.0.1 or ::`);
  // 0 asks the kernel for a free port (tests, several daemons).
  const port = values.port === undefined ? DEFAULT_PORT : values.port === '0' ? 0 : positiveInt(values.port, '--port', 65535);
  return { host, port };
}

export function parseCommandLine(argv: string[]): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case 'trace': {
      const { values } = parse(rest, {
        netns: { type: 'string', multiple: true },
        outer: { type: 'string' },
        'outer-netns': { type: 'string' },
        duration: { type: 'string' },
        csv: { type: 'string' },
        ...TRACER_OPTIONS,
      });
      return {
        name: 'trace',
        args: {
          netns: values.netns ?? [],
          outer: values.outer,
          outerNetns: values['outer-netns'],
          durationNs: durationOpt(values.duration, '--duration'),
          csv: values.csv,
          tracer: tracerOpts(values),
        },
      };
    }
    case 'ping': {
      const { values, positionals } = parse(rest, {
        netns: { type: 'string' },
        count: { type: 'string', short: 'c' },
        interval: { type: 'string', short: 'i' },
        size: { type: 'string', short: 's' },
        ipv4: { type: 'boolean', short: '4' },
        ipv6: { type: 'boolean', short: '6' },
        outer: { type: 'string' },
        'outer-netns': { type: 'string' },
        csv: { type: 'string' },
      }, true);
      if (!values.netns) throw new Error('ping needs --netns SPEC (an ip netns name, a path, or pid:N)');
      if (positionals.length !== 1) throw new Error(`ping needs exactly one TARGET (an address or host name), got ${positionals.length ? positionals.join(' ') : 'none'}`);
      if (values.ipv4 && values.ipv6) throw new Error('ping takes -4 or -6, not both');
      return {
        name: 'ping',
        args: {
          netns: values.netns,
          target: positionals[0]!,
          count: values.count === undefined ? 10 : positiveInt(values.count, '-c', 1_000_000),
          intervalS: values.interval === undefined ? 0.2 : pingInterval(values.interval),
          size: values.size === undefined ? undefined : pingSize(values.size),
          family: values.ipv4 ? 4 : values.ipv6 ? 6 : undefined,
          outer: values.outer,
          outerNetns: values['outer-netns'],
          csv: values.csv,
        },
      };
    }
    case 'limit': {
      const { values } = parse(rest, {
        netns: { type: 'string' },
        rate: { type: 'string' },
        dev: { type: 'string' },
        horizon: { type: 'string' },
        duration: { type: 'string' },
      });
      if (!values.netns) throw new Error('limit needs --netns SPEC (an ip netns name, a path, or pid:N)');
      if (!values.rate) throw new Error('limit needs --rate RATE: Mesos bytes/s (37500KB, 100MB) or tc bits/s (300mbit, 1gbit)');
      return {
        name: 'limit',
        args: {
          netns: values.netns,
          rateBytesPerSec: parseRate(values.rate),
          dev: values.dev,
          horizonNs: horizonOpt(values.horizon),
          durationNs: durationOpt(values.duration, '--duration'),
        },
      };
    }
    case 'stats': {
      const { values } = parse(rest, { netns: { type: 'string', multiple: true }, interval: { type: 'string' }, count: { type: 'string' } });
      return {
        name: 'stats',
        args: {
          netns: values.netns ?? [],
          intervalNs: statsInterval(values.interval),
          count: values.count === undefined ? 1 : positiveInt(values.count, '--count', 1_000_000),
        },
      };
    }
    case 'serve': {
      const { values } = parse(rest, {
        ...SERVER_OPTIONS,
        ...TRACER_OPTIONS,
        netns: { type: 'string', multiple: true },
        outer: { type: 'string' },
        'outer-netns': { type: 'string' },
        'token-file': { type: 'string' },
        duration: { type: 'string' },
      });
      return {
        name: 'serve',
        args: {
          ...serverOpts(values),
          netns: values.netns ?? [],
          outer: values.outer,
          outerNetns: values['outer-netns'],
          tokenFile: values['token-file'],
          tracer: tracerOpts(values),
          durationNs: durationOpt(values.duration, '--duration'),
        },
      };
    }
    case 'demo': {
      const { values } = parse(rest, { ...SERVER_OPTIONS, containers: { type: 'string' }, duration: { type: 'string' } });
      return {
        name: 'demo',
        args: {
          ...serverOpts(values),
          containers: values.containers === undefined ? 2 : positiveInt(values.containers, '--containers', 16),
          durationNs: durationOpt(values.duration, '--duration'),
        },
      };
    }
    case 'lab': {
      const { values, positionals } = parse(rest, { containers: { type: 'string' } }, true);
      const [action, ...ids] = positionals;
      if (action === 'up') {
        return { name: 'lab', action, containers: values.containers === undefined ? 2 : positiveInt(values.containers, '--containers', 16) };
      }
      if (action === 'down') return { name: 'lab', action, ids };
      if (action === 'list') return { name: 'lab', action };
      throw new Error(`unknown lab action "${action ?? ''}": use lab up, lab down [ID...] or lab list`);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    default:
      throw new Error(`unknown command "${name}"\n${USAGE}`);
  }
}
