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
    expect(parseCommandLine(['demo'])).toEqual({ name: 'demo', containers: 2, durationNs: undefined });
  });

  it.each([
    [['trace', '--netns', 'a', '--inflight', '0'], /invalid --inflight "0"/],
    [['trace', '--netns', 'a', '--inflight', '1e3'], /invalid --inflight "1e3"/],
    [['trace', '--netns', 'a', '--max-age', 'forever'], /--max-age/],
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
