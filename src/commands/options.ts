// options.ts - every command's options, parsed and converted in one place
// (DESIGN §5). Units go through core/units so "10s" means the same everywhere.
import { parseArgs } from 'node:util';
import { parseDuration, parseRate } from '../core/units';
import type { LimitArgs } from './limit';
import type { StatsArgs } from './stats';
import type { TraceArgs } from './trace';

export const USAGE = `usage: macebpf <command> [options]

commands:
  trace --netns SPEC [--netns SPEC...] [--outer IFACE] [--outer-netns SPEC]
        [--duration S] [--csv FILE] [--inflight N] [--max-age DUR] [--no-sockets]
                       trace containers: live table on a TTY, CSV of every record
  limit --netns SPEC --rate RATE [--dev IFACE] [--horizon DUR] [--duration S]
                       EDT egress rate limit of a container until Ctrl-C; prints
                       achieved rate and drops. RATE: Mesos bytes/s (37500KB,
                       100MB) or tc bits/s (300mbit, 1gbit)
  stats --netns SPEC [--netns SPEC...] [--interval DUR] [--count N]
                       Mesos-style statistics JSON (net_*, bw_limit, latency)
  demo [--containers N] [--duration S]
                       build the lab, send traffic, trace it (what npm start runs)
  lab up [--containers N] | lab down [ID...] | lab list
                       the lab topology alone (network namespaces, bridge, NAT)

SPEC: an ip netns name, a netns path (/run/netns/x, /proc/N/ns/net) or pid:N.
--outer defaults to the device of the default route in --outer-netns, which
defaults to the caller's netns. Durations: 10, 10s, 500ms, 2m.`;

export type Command =
  | { name: 'trace'; args: TraceArgs }
  | { name: 'limit'; args: LimitArgs }
  | { name: 'stats'; args: StatsArgs }
  | { name: 'demo'; containers: number; durationNs?: number }
  | { name: 'lab'; action: 'up'; containers: number }
  | { name: 'lab'; action: 'down'; ids: string[] }
  | { name: 'lab'; action: 'list' }
  | { name: 'help' };

function positiveInt(text: string, what: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > max) throw new Error(`invalid ${what} "${text}": use a whole number from 1 to ${max}`);
  return n;
}

const durationOpt = (text: string | undefined, what: string): number | undefined =>
  text === undefined ? undefined : parseDuration(text, what);

// EDT needs a horizon of at least a microsecond; a minute is already no limit.
function horizonOpt(text: string | undefined): number | undefined {
  const ns = durationOpt(text, '--horizon');
  if (ns !== undefined && (ns < 1e3 || ns > 60e9)) throw new Error(`invalid --horizon "${text}": use a duration from 1us to 60s, e.g. 10ms`);
  return ns;
}

export function parseCommandLine(argv: string[]): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case 'trace': {
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: {
          netns: { type: 'string', multiple: true },
          outer: { type: 'string' },
          'outer-netns': { type: 'string' },
          duration: { type: 'string' },
          csv: { type: 'string' },
          inflight: { type: 'string' },
          'max-age': { type: 'string' },
          'no-sockets': { type: 'boolean' },
        },
      });
      return {
        name: 'trace',
        args: {
          netns: values.netns ?? [],
          outer: values.outer,
          outerNetns: values['outer-netns'],
          durationNs: durationOpt(values.duration, '--duration'),
          csv: values.csv,
          tracer: {
            inflightEntries: values.inflight === undefined ? undefined : positiveInt(values.inflight, '--inflight', 1 << 24),
            maxAgeNs: durationOpt(values['max-age'], '--max-age'),
            sockets: !values['no-sockets'],
          },
        },
      };
    }
    case 'limit': {
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: {
          netns: { type: 'string' },
          rate: { type: 'string' },
          dev: { type: 'string' },
          horizon: { type: 'string' },
          duration: { type: 'string' },
        },
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
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: { netns: { type: 'string', multiple: true }, interval: { type: 'string' }, count: { type: 'string' } },
      });
      return {
        name: 'stats',
        args: {
          netns: values.netns ?? [],
          intervalNs: durationOpt(values.interval, '--interval') ?? 1e9,
          count: values.count === undefined ? 1 : positiveInt(values.count, '--count', 1_000_000),
        },
      };
    }
    case 'demo': {
      const { values } = parseArgs({
        args: rest,
        strict: true,
        options: { containers: { type: 'string' }, duration: { type: 'string' } },
      });
      return {
        name: 'demo',
        containers: values.containers === undefined ? 2 : positiveInt(values.containers, '--containers', 16),
        durationNs: durationOpt(values.duration, '--duration'),
      };
    }
    case 'lab': {
      const { values, positionals } = parseArgs({
        args: rest,
        strict: true,
        allowPositionals: true,
        options: { containers: { type: 'string' } },
      });
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
