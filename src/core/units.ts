// Units shared by the CLI, server and dashboard: durations in nanoseconds,
// rates in bytes per second. Parsing is strict so that a typo on the command
// line fails loudly instead of silently becoming a wildly different limit.

const NS_PER: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu: both are typed in practice
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const DURATION_FORMS = '250ns, 10us, 10µs, 5ms, 2s, 1.5m, 1h, or a bare number of seconds (10)';

// A plain unsigned decimal: no sign, no exponent, no hex, so "1e3" or "0x10"
// never sneak through Number()'s permissive grammar.
const NUMBER = '(\\d+(?:\\.\\d*)?|\\.\\d+)';

/** Parses a duration (`250ns`, `10us`, `5ms`, `2s`, `1.5m`, `1h`, bare = seconds) into nanoseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const s = String(text).trim();
  const m = new RegExp(`^${NUMBER}\\s*([^\\d\\s.]*)$`).exec(s);
  const fail = (why: string): never => {
    throw new Error(`invalid ${what} ${JSON.stringify(text)}: ${why}; use ${DURATION_FORMS}`);
  };
  if (s === '') fail('it is empty');
  if (s.startsWith('-')) fail('it is negative');
  if (!m) fail('not a number with a unit');
  const [, num, unit] = m as RegExpExecArray;
  const scale = unit === '' ? NS_PER.s : NS_PER[unit];
  if (scale === undefined) fail(`unknown unit "${unit}"`);
  const ns = Math.round(Number(num) * scale);
  if (!Number.isSafeInteger(ns)) fail('it is too large');
  return ns;
}

// Mesos `Bytes` units: case-sensitive, 1024 multiples, value in bytes.
const MESOS_BYTES: Record<string, number> = {
  B: 1,
  KB: 1024,
  MB: 1024 ** 2,
  GB: 1024 ** 3,
  TB: 1024 ** 4,
};

// tc(8) rate units, matched case-insensitively like iproute2's get_rate():
// `…bit` are bits/s, `…bps` are BYTES/s; SI prefixes are 1000 multiples and
// IEC prefixes (ki, mi, …) 1024 multiples. Values here are bits/s per unit.
const TC_BITS: Record<string, number> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  tibit: 1024 ** 4,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
  tbps: 8e12,
  kibps: 8 * 1024,
  mibps: 8 * 1024 ** 2,
  gibps: 8 * 1024 ** 3,
  tibps: 8 * 1024 ** 4,
};

/** What a limit takes (native/limit.cc holds the same range): from 1 byte/s
 * up to 1e12 bytes/s (8 Tbit/s), where one frame's departure step is ~1 ns. */
export const RATE_MIN_BYTES_PER_SEC = 1;
export const RATE_MAX_BYTES_PER_SEC = 1e12;

const RATE_FORMS = 'use Mesos bytes (37500KB, 100MB, 1GB, 512B) or tc bits (300mbit, 1gbit, 64kbit; tc "mbps" means megabytes/s)';

/** Parses a rate in Mesos bytes units or tc units into bytes per second. */
export function parseRate(text: string): number {
  const s = String(text).trim();
  const fail = (why: string): never => {
    throw new Error(`invalid rate ${JSON.stringify(text)}: ${why}; ${RATE_FORMS}`);
  };
  if (s === '') fail('it is empty');
  if (s.startsWith('-')) fail('it is negative');
  const m = new RegExp(`^${NUMBER}\\s*([^\\d\\s.]*)$`).exec(s);
  if (!m) fail('not a number with a unit');
  const [, num, unit] = m as RegExpExecArray;
  // A bare number is ambiguous (tc reads bits, Mesos bytes): demand a unit.
  if (unit === '') fail('the unit is missing');
  const value = Number(num);
  let bytesPerSec: number;
  if (MESOS_BYTES[unit] !== undefined) bytesPerSec = value * MESOS_BYTES[unit];
  else if (TC_BITS[unit.toLowerCase()] !== undefined) bytesPerSec = (value * TC_BITS[unit.toLowerCase()]) / 8;
  else return fail(`unknown unit "${unit}"`);
  if (!(bytesPerSec > 0)) fail('it must be greater than zero');
  if (bytesPerSec < RATE_MIN_BYTES_PER_SEC) fail(`it is ${bytesPerSec} bytes/s, below the smallest limit of 1 byte/s (8bit)`);
  if (!(bytesPerSec <= RATE_MAX_BYTES_PER_SEC)) fail('it is above the largest limit of 8tbit (1e12 bytes/s)');
  return bytesPerSec;
}

// Three significant digits, without exponent notation: 1.25, 12.3, 850.
function sig3(v: number): string {
  return v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
}

// Picks the largest unit in which the rounded value is still >= 1, so that
// 999.96µs prints as 1.00ms rather than 1000µs.
function scaled(v: number, units: ReadonlyArray<readonly [string, number]>, fmt: (x: number) => string, sep: string): string {
  for (let i = units.length - 1; i > 0; i--) {
    const [name, size] = units[i];
    if (Number(fmt(v / size)) >= 1) return `${fmt(v / size)}${sep}${name}`;
  }
  return `${fmt(v / units[0][1])}${sep}${units[0][0]}`;
}

const NS_UNITS = [['ns', 1], ['µs', 1e3], ['ms', 1e6], ['s', 1e9]] as const;

/** Compact human form of a duration in ns: `850ns`, `12.3µs`, `1.25ms`, `2.00s`; NaN (not observed) is `-`. */
export function formatNs(ns: number): string {
  if (Number.isNaN(ns)) return '-';
  if (ns < 0) return `-${formatNs(-ns)}`;
  if (ns < 999.5) return `${Math.round(ns)}ns`;
  return scaled(ns, NS_UNITS, sig3, '');
}

const BYTE_UNITS = [['B', 1], ['KiB', 1024], ['MiB', 1024 ** 2], ['GiB', 1024 ** 3], ['TiB', 1024 ** 4]] as const;

/** Human form of a byte count with 1024 multiples: `512 B`, `1.50 KiB`, `36.6 MiB`. */
export function formatBytes(bytes: number): string {
  if (Number.isNaN(bytes)) return '-';
  if (bytes < 0) return `-${formatBytes(-bytes)}`;
  if (bytes < 1023.5) return `${Math.round(bytes)} B`;
  return scaled(bytes, BYTE_UNITS, sig3, ' ');
}

const BIT_UNITS = [['bit/s', 1], ['kbit/s', 1e3], ['Mbit/s', 1e6], ['Gbit/s', 1e9], ['Tbit/s', 1e12]] as const;

/** A rate given in bytes/s, shown as bits/s with SI prefixes: `300.0 Mbit/s`. */
export function formatRate(bytesPerSec: number): string {
  if (Number.isNaN(bytesPerSec)) return '-';
  if (bytesPerSec < 0) return `-${formatRate(-bytesPerSec)}`;
  return scaled(bytesPerSec * 8, BIT_UNITS, (x) => x.toFixed(1), ' ');
}

/** EDT needs a horizon of at least a microsecond; a minute is already no limit. */
export const HORIZON_MIN_NS = 1e3;
export const HORIZON_MAX_NS = 60e9;

/** Parses an EDT horizon (a duration from 1us to 60s) into ns. */
export function parseHorizon(text: string, what = 'horizon'): number {
  const ns = parseDuration(text, what);
  if (ns < HORIZON_MIN_NS || ns > HORIZON_MAX_NS) throw new Error(`invalid ${what} ${JSON.stringify(text)}: use a duration from 1us to 60s, e.g. 10ms`);
  return ns;
}
