import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/commands/options';

describe('parseCommandLine', () => {
  it('parses trace with every option, converting units once', () => {
    const cmd = parseCommandLine(['trace', '--netns', 'a', '--netns', 'pid:12', '--outer', 'eth0', '--outer-netns', 'host',
      '--duration', '10s', '--csv', 'out.csv', '--inflight', '4096', '--max-age', '500ms', '--no-sockets']);
    expect(cmd).toEqual({
      name: 'trace',
      args: {
        netns: ['a', 'pid:12'],
        outer: 'eth0',
        outerNetns: 'host',
        durationNs: 10e9,
        csv: 'out.csv',
        tracer: { inflightEntries: 4096, maxAgeNs: 500e6, sockets: false },
      },
    });
  });

  it('accepts the tracer bounds themselves', () => {
    const lo = parseCommandLine(['trace', '--netns', 'a', '--inflight', '64', '--max-age', '1us']);
    const hi = parseCommandLine(['trace', '--netns', 'a', '--inflight', '16777216', '--max-age', '4s']);
    expect(lo.name === 'trace' && lo.args.tracer).toMatchObject({ inflightEntries: 64, maxAgeNs: 1e3 });
    expect(hi.name === 'trace' && hi.args.tracer).toMatchObject({ inflightEntries: 1 << 24, maxAgeNs: 4e9 });
  });

  it('a value that starts with a dash is the option\'s value, checked by macebpf', () => {
    expect(() => parseCommandLine(['limit', '--netns', 'a', '--rate', '-5mbit'])).toThrow(/^invalid rate "-5mbit": it is negative/);
    expect(() => parseCommandLine(['ping', '--netns', 'a', '-i', '-0.2', 't'])).toThrow(/^invalid -i "-0.2": it is negative/);
    expect(() => parseCommandLine(['serve', '--port', '-1'])).toThrow(/^invalid --port "-1"/);
    // an option after an option stays an option
    expect(() => parseCommandLine(['trace', '--netns', '--csv', 'x'])).toThrow(/argument is ambiguous/);
    const cmd = parseCommandLine(['trace', '--netns', 'a', '--csv', '-']);
    expect(cmd.name === 'trace' && cmd.args.csv).toBe('-');
  });

  it('bare duration numbers are seconds', () => {
    const cmd = parseCommandLine(['trace', '--netns', 'a', '--duration', '3']);
    expect(cmd.name === 'trace' && cmd.args.durationNs).toBe(3e9);
  });

  it('lab actions', () => {
    expect(parseCommandLine(['lab', 'up', '--containers', '3'])).toEqual({ name: 'lab', action: 'up', containers: 3 });
    expect(parseCommandLine(['lab', 'down', 'abc123'])).toEqual({ name: 'lab', action: 'down', ids: ['abc123'] });
    expect(parseCommandLine(['lab', 'list'])).toEqual({ name: 'lab', action: 'list' });
  });

  it('demo defaults to two containers, no duration', () => {
    expect(parseCommandLine(['demo'])).toEqual({ name: 'demo', args: { containers: 2, durationNs: undefined, host: '127.0.0.1', port: 8640 } });
  });

  it.each([
    [['trace', '--netns', 'a', '--inflight', '0'], /invalid --inflight "0"/],
    [['trace', '--netns', 'a', '--inflight', '1e3'], /invalid --inflight "1e3"/],
    [['trace', '--netns', 'a', '--max-age', 'forever'], /--max-age/],
    // Syntactically fine for the argument parser, outside what the tracer can hold:
    // rejected here, naming the option, not later by the addon as 'inflightEntries'.
    [['trace', '--netns', 'a', '--inflight', '16'], /^invalid --inflight "16": use a whole number from 64 to 16777216$/],
    [['trace', '--netns', 'a', '--inflight=-5'], /^invalid --inflight "-5": use a whole number from 64 to 16777216$/],
    [['serve', '--inflight', '16777217'], /^invalid --inflight "16777217": use a whole number from 64 to 16777216$/],
    [['trace', '--netns', 'a', '--max-age', '0'], /^invalid --max-age "0": use a duration from 1us to 4s/],
    [['trace', '--netns', 'a', '--max-age', '500ns'], /^invalid --max-age "500ns": use a duration from 1us to 4s/],
    [['serve', '--max-age', '5s'], /^invalid --max-age "5s": use a duration from 1us to 4s/],
    [['trace', '--bogus'], /bogus/],
    [['lab'], /unknown lab action ""/],
    [['demo', '--containers', '99'], /from 1 to 16/],
    [['nope'], /unknown command "nope"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message);
  });

  it('help', () => {
    expect(parseCommandLine([])).toEqual({ name: 'help' });
    expect(parseCommandLine(['--help'])).toEqual({ name: 'help' });
  });
});

describe('parseCommandLine: limit and stats', () => {
  it('parses limit with units converted once', () => {
    expect(parseCommandLine(['limit', '--netns', 'c1', '--rate', '300mbit', '--dev', 'eth0', '--horizon', '10ms', '--duration', '5'])).toEqual({
      name: 'limit',
      args: { netns: 'c1', rateBytesPerSec: 300e6 / 8, dev: 'eth0', horizonNs: 10e6, durationNs: 5e9 },
    });
    expect(parseCommandLine(['limit', '--netns', 'c1', '--rate', '37500KB'])).toMatchObject({ args: { rateBytesPerSec: 37500 * 1024, horizonNs: undefined } });
  });

  it('parses stats with defaults', () => {
    expect(parseCommandLine(['stats', '--netns', 'a', '--netns', 'b'])).toEqual({ name: 'stats', args: { netns: ['a', 'b'], intervalNs: 1e9, count: 1 } });
    expect(parseCommandLine(['stats', '--netns', 'a', '--interval', '250ms', '--count', '3'])).toMatchObject({ args: { intervalNs: 250e6, count: 3 } });
    expect(parseCommandLine(['stats', '--netns', 'a', '--interval', '10ms'])).toMatchObject({ args: { intervalNs: 10e6 } });
    expect(() => parseCommandLine(['stats', '--netns', 'a', '--interval', '0'])).toThrow('invalid --interval "0": use a duration of at least 10ms');
    expect(() => parseCommandLine(['stats', '--netns', 'a', '--interval', '9ms'])).toThrow('invalid --interval "9ms"');
  });

  it.each([
    [['limit', '--netns', 'a', '--rate', 'fast'], /invalid rate "fast"/],
    [['limit', '--netns', 'a', '--rate', '1mbit', '--horizon', '500ns'], /invalid --horizon "500ns"/],
    [['stats', '--netns', 'a', '--count', '0'], /invalid --count "0"/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCommandLine(argv)).toThrow(message);
  });
});

describe('parseCommandLine serve', () => {
  it('defaults to loopback and port 8640, takes every option once', () => {
    expect(parseCommandLine(['serve'])).toEqual({
      name: 'serve',
      args: { host: '127.0.0.1', port: 8640, netns: [], outer: undefined, outerNetns: undefined, tokenFile: undefined, durationNs: undefined, tracer: { inflightEntries: undefined, maxAgeNs: undefined, sockets: true } },
    });
    const cmd = parseCommandLine(['serve', '--host', '::', '--port', '0', '--netns', 'a', '--netns', 'pid:5', '--token-file', '/tmp/t', '--no-sockets', '--duration', '2s']);
    expect(cmd).toMatchObject({ name: 'serve', args: { host: '::', port: 0, netns: ['a', 'pid:5'], tokenFile: '/tmp/t', durationNs: 2e9, tracer: { sockets: false } } });
  });

  it.each([
    [['serve', '--port', '70000'], /invalid --port "70000": use a whole number from 1 to 65535/],
    [['serve', '--port', 'http'], /invalid --port "http"/],
    [['serve', '--host', 'a b'], /invalid --host "a b"/],
    [['serve', '--duration', 'soon'], /invalid --duration "soon"/],
    [['demo', '--port=-1'], /invalid --port "-1"/],
  ])('rejects %j with its own message', (argv, msg) => {
    expect(() => parseCommandLine(argv)).toThrow(msg);
  });
});
