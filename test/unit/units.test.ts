import { describe, expect, it } from 'vitest';
import { formatBytes, formatNs, formatRate, parseDuration, parseRate } from '../../src/core/units';

describe('parseDuration', () => {
  it.each([
    ['250ns', 250],
    ['10us', 10_000],
    ['10µs', 10_000],
    ['10μs', 10_000],
    ['5ms', 5_000_000],
    ['2s', 2e9],
    ['1.5m', 90e9],
    ['1h', 3600e9],
    ['10', 10e9],
    ['0.5', 5e8],
    [' 3 ms ', 3e6],
    ['0', 0],
  ])('%s → %d ns', (text, ns) => {
    expect(parseDuration(text)).toBe(ns);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['-5ms', /negative/],
    ['NaN', /not a number/],
    ['abc', /not a number/],
    ['1e3', /not a number/],
    ['5 fortnights', /unknown unit "fortnights"/],
    ['5MS', /unknown unit "MS"/],
    ['99999999999h', /too large/],
  ])('rejects %j', (text, why) => {
    expect(() => parseDuration(text)).toThrow(why);
  });

  it('names the option, the bad value and the accepted forms', () => {
    expect(() => parseDuration('5x', '--horizon')).toThrow(
      'invalid --horizon "5x": unknown unit "x"; use 250ns, 10us, 10µs, 5ms, 2s, 1.5m, 1h, or a bare number of seconds (10)',
    );
  });
});

describe('parseRate', () => {
  it.each([
    // Mesos Bytes: bytes/s, 1024 multiples, case-sensitive
    ['512B', 512],
    ['37500KB', 37500 * 1024],
    ['100MB', 100 * 1024 ** 2],
    ['1GB', 1024 ** 3],
    // tc bits: bits/s, 1000 multiples, case-insensitive
    ['1000bit', 125],
    ['64kbit', 8000],
    ['300mbit', 37_500_000],
    ['300Mbit', 37_500_000],
    ['1gbit', 125_000_000],
    ['1.5mbit', 187_500],
    ['1mibit', 1024 ** 2 / 8],
    // tc bytes: "bps" is BYTES/s in tc(8)
    ['10kbps', 10_000],
    ['10mbps', 10_000_000],
    ['10MBps', 10_000_000],
    ['1gbps', 1e9],
    ['8bit', 1], // the bounds themselves
    ['8tbit', 1e12],
  ])('%s → %d B/s', (text, bytesPerSec) => {
    expect(parseRate(text)).toBe(bytesPerSec);
  });

  it.each([
    ['', /empty/],
    ['0mbit', /greater than zero/],
    ['0KB', /greater than zero/],
    ['-1mbit', /negative/],
    ['100', /unit is missing/],
    ['100mb', /unknown unit "mb"/], // Mesos units are uppercase; tc has no "mb"
    ['100kB', /unknown unit "kB"/],
    ['fast', /not a number/],
    ['1bit', /below the smallest limit of 1 byte\/s/],
    ['8.1tbit', /above the largest limit of 8tbit/],
    ['99999999999999999999gbit', /above the largest limit/],
  ])('rejects %j', (text, why) => {
    expect(() => parseRate(text)).toThrow(why);
  });

  it('shows the bad value and the accepted forms', () => {
    expect(() => parseRate('12 parsecs')).toThrow(
      /^invalid rate "12 parsecs": unknown unit "parsecs"; use Mesos bytes \(37500KB, 100MB.*\) or tc bits \(300mbit, 1gbit/,
    );
  });
});

describe('formatNs', () => {
  it.each([
    [0, '0ns'],
    [850, '850ns'],
    [999.4, '999ns'],
    [999.7, '1.00µs'],
    [12_345, '12.3µs'],
    [1_250_000, '1.25ms'],
    [999_960, '1.00ms'],
    [2e9, '2.00s'],
    [123.4e9, '123s'],
    [-1500, '-1.50µs'],
    [NaN, '-'],
  ])('%d → %s', (ns, text) => {
    expect(formatNs(ns)).toBe(text);
  });
});

describe('formatBytes / formatRate', () => {
  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [1536, '1.50 KiB'],
    [100 * 1024 ** 2, '100 MiB'],
    [1024 ** 3, '1.00 GiB'],
  ])('formatBytes(%d) → %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it.each([
    [0, '0.0 bit/s'],
    [125, '1.0 kbit/s'],
    [37_500_000, '300.0 Mbit/s'],
    [125_000_000, '1.0 Gbit/s'],
  ])('formatRate(%d B/s) → %s', (n, text) => {
    expect(formatRate(n)).toBe(text);
  });

  it('round-trips a tc rate through parse and format', () => {
    expect(formatRate(parseRate('300mbit'))).toBe('300.0 Mbit/s');
    expect(formatRate(parseRate('37500KB'))).toBe('307.2 Mbit/s');
  });
});
