import { describe, expect, it } from 'vitest';
import { ClientMessage, CsvQuery, describeIssues, labelProblem, LimitBody, sinceEpochMs, specProblem } from '../../src/core/protocol';

describe('specProblem', () => {
  it.each(['mb-1a2b3c-c1', 'pid:42', 'docker:web-1', 'podman:db', '/proc/42/ns/net', '/run/netns/blue'])('accepts %s', (s) => {
    expect(specProblem(s)).toBeUndefined();
  });
  it.each([
    ['../../etc/passwd', /path traversal/],
    ['/run/netns/../../etc/shadow', /path traversal/],
    ['/etc/passwd', /is not a container spec/],
    ['/proc/1/ns/mnt', /is not a container spec/],
    ['pid:0', /is not a container spec/],
    ['pid:-1', /is not a container spec/],
    ['docker:', /is not a container spec/],
    ['.', /is not a container spec/],
    ['a b', /is not a container spec/],
    ['', /is not a container spec/],
  ])('refuses %j', (s, msg) => {
    expect(specProblem(s)).toMatch(msg);
  });
});

describe('labelProblem', () => {
  it.each(['c1', 'web server', 'pod:ns/name', 'x'.repeat(64), 'c1@4026531840', 'Zürich'])('accepts %j', (s) => {
    expect(labelProblem(s)).toBeUndefined();
  });
  it.each([
    ['', /has 0 characters; use 1 to 64/],
    ['x'.repeat(65), /has 65 characters/],
    ['a\nb', /control character/],
    ['a\u001b[2Jb', /control character/],
    ['a\u200eb', /control character/], // a bidi mark: invisible in a table
    [' c1', /starts or ends with a space/],
    ['4026531840', /all digits/],
  ])('refuses %j', (s, msg) => {
    expect(labelProblem(s)).toMatch(msg);
  });
});

describe('ClientMessage', () => {
  it('accepts each message type', () => {
    for (const m of [
      { type: 'auth', token: 't' },
      { type: 'subscribe', containers: null, id: 1 },
      { type: 'subscribe', containers: ['a'] },
      { type: 'trace', spec: 'pid:1', label: 'x' },
      { type: 'untrace', container: 'x', id: 'q' },
      { type: 'limit', container: 'x', rate: '100mbit', horizon: '10ms' },
      { type: 'unlimit', container: 'x' },
    ]) {
      expect(ClientMessage.safeParse(m).success, JSON.stringify(m)).toBe(true);
    }
  });

  it.each([
    [{ type: 'nope' }, /"type"/],
    [{}, /"type"/],
    [{ type: 'limit', container: 'x', rate: '10' }, /^rate: invalid rate "10": the unit is missing/],
    [{ type: 'limit', container: 'x', rate: '1mbit', horizon: '1ns' }, /^horizon: invalid horizon "1ns"/],
    [{ type: 'subscribe', containers: null, extra: 1 }, /unknown field\(s\) "extra"/],
    [{ type: 'trace', spec: '' }, /^spec: name a known container or give a container spec/],
    [{ type: 'subscribe', containers: null, id: 1.5 }, /^id: give the id as a string of up to 64 characters or a safe integer$/],
    [{ type: 'subscribe', containers: null, id: 1e300 }, /^id: Too big: expected int to be <=9007199254740991$/],
  ])('explains what is wrong with %j', (m, msg) => {
    const r = ClientMessage.safeParse(m);
    expect(r.success).toBe(false);
    if (!r.success) expect(describeIssues(r.error)).toMatch(msg);
  });
});

describe('HTTP schemas', () => {
  it('LimitBody takes a rate and an optional horizon', () => {
    expect(LimitBody.parse({ rate: '37500KB' })).toEqual({ rate: '37500KB' });
    expect(LimitBody.safeParse({ rate: '1mbit', horizon: 5 }).success).toBe(false);
  });

  it('CsvQuery defaults and since forms', () => {
    expect(CsvQuery.parse({ container: 'a' })).toEqual({ container: 'a', direction: 'both', follow: '1' });
    expect(sinceEpochMs('1795351972529', 0)).toBe(1795351972529);
    expect(sinceEpochMs('30s', 100_000)).toBe(70_000);
    expect(sinceEpochMs(undefined, 5)).toBe(0);
    const bad = CsvQuery.safeParse({ container: 'a', since: 'yesterday' });
    expect(!bad.success && describeIssues(bad.error)).toMatch(/since: .*epoch milliseconds/);
  });
});
