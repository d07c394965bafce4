import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { CSV_HEADER, formatCsvRow, parseCsvRow, type LatencyRow } from '../../src/core/csv';
import { latencyCsv } from '../../src/host/csv-writer';

function row(i: number, over: Partial<LatencyRow> = {}): LatencyRow {
  return {
    timestampNs: 1_700_000_000_000_000_000n + BigInt(i),
    container: `c${i % 3}`,
    netns: 4026532177 + (i % 3),
    direction: i % 2 ? 'ingress' : 'egress',
    protocol: ['icmp', 'udp', 'tcp', 'icmpv6'][i % 4],
    latencyNs: 10_000 + i,
    stackNs: i % 5 === 0 ? null : 3000 + i,
    virtNs: i % 7 === 0 ? null : 7000,
    packetId: i,
    ...over,
  };
}

// A Writable that accepts a chunk only after a delay, with a tiny buffer, so
// write() returns false almost every time and the writer must wait for 'drain'.
function slowSink(hwm = 64): { sink: Writable; text: () => string; drains: () => number; maxBuffered: () => number } {
  const chunks: string[] = [];
  let drains = 0;
  let maxBuffered = 0;
  const sink = new Writable({
    highWaterMark: hwm,
    decodeStrings: false,
    write(chunk: string, _enc, cb) {
      chunks.push(chunk);
      setTimeout(cb, 1);
    },
  });
  sink.on('drain', () => drains++);
  const origWrite = sink.write.bind(sink);
  sink.write = ((chunk: string) => {
    const ok = origWrite(chunk);
    maxBuffered = Math.max(maxBuffered, sink.writableLength);
    return ok;
  }) as typeof sink.write;
  return { sink, text: () => chunks.join(''), drains: () => drains, maxBuffered: () => maxBuffered };
}

describe('CSV rows', () => {
  it('has the contract header', () => {
    expect(CSV_HEADER).toBe('timestamp_ns,container,netns,direction,protocol,latency_ns,stack_ns,virt_ns,packet_id');
  });

  it('formats fields in header order with empty fields for unobserved parts', () => {
    expect(formatCsvRow(row(0))).toBe('1700000000000000000,c0,4026532177,egress,icmp,10000,,,0');
    expect(formatCsvRow(row(1))).toBe('1700000000000000001,c1,4026532178,ingress,udp,10001,3001,7000,1');
  });

  it('quotes labels with comma, quote or newline per RFC 4180', () => {
    expect(formatCsvRow(row(1, { container: 'a,b' }))).toContain(',"a,b",');
    expect(formatCsvRow(row(1, { container: 'say "hi"' }))).toContain(',"say ""hi""",');
    expect(formatCsvRow(row(1, { container: 'two\nlines' }))).toContain(',"two\nlines",');
  });

  it.each([
    ['plain', row(3)],
    ['both parts empty', row(0)],
    ['stack only empty', row(5)],
    ['comma label', row(2, { container: 'web,frontend' })],
    ['quote label', row(2, { container: '"quoted" name' })],
    ['newline label', row(2, { container: 'a\r\nb' })],
    ['empty label', row(2, { container: '' })],
    ['label is just a quote', row(2, { container: '"' })],
    ['timestamp beyond 2^53', row(2, { timestampNs: 18_446_744_073_709_551_615n })],
    ['fractional latency', row(2, { latencyNs: 1234.5, stackNs: 0, virtNs: 0 })],
  ])('round-trips: %s', (_name, r) => {
    expect(parseCsvRow(formatCsvRow(r))).toEqual(r);
    expect(parseCsvRow(formatCsvRow(r) + '\r\n')).toEqual(r);
  });

  it.each([
    ['1,c,1,egress,icmp,1,,,', /packet_id is "", expected a non-negative integer/],
    ['1,c,1,sideways,icmp,1,,,1', /direction is "sideways", expected egress or ingress/],
    ['x,c,1,egress,icmp,1,,,1', /timestamp_ns is "x"/],
    ['1,c,1,egress,icmp,,,,1', /latency_ns is "", expected a number/],
    ['1,c,1,egress,icmp,1,abc,,1', /stack_ns is "abc", expected a number/],
    ['1,c,1,egress', /4 fields, expected 9/],
    ['1,"c,1,egress,icmp,1,,,1', /unterminated quoted field/],
    ['1,"c"x,1,egress,icmp,1,,,1', /text after a closing quote/],
  ])('rejects %j', (line, why) => {
    expect(() => parseCsvRow(line)).toThrow(why);
  });
});

// Splits CSV text into records, keeping newlines inside quoted fields.
function records(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === '\n' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  expect(cur).toBe(''); // every record is terminated
  return out;
}

describe('CsvWriter', () => {
  it('honours backpressure and delivers every row, in order, header once', async () => {
    const { sink, text, drains, maxBuffered } = slowSink();
    const w = latencyCsv(sink);
    const all: LatencyRow[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const rows = Array.from({ length: 300 }, (_, j) => row(batch * 300 + j, j === 7 ? { container: 'odd, "name"\n' } : {}));
      all.push(...rows);
      await w.write(rows);
    }
    await w.close();
    const lines = records(text());
    expect(lines[0]).toBe(CSV_HEADER);
    expect(lines.length).toBe(all.length + 1);
    expect(lines.slice(1).map(parseCsvRow)).toEqual(all);
    expect(drains()).toBeGreaterThan(5); // it really did wait for 'drain'
    expect(maxBuffered()).toBeLessThan(64 * 1024); // and did not pile everything into the buffer
  });

  it('keeps call order when writes are not awaited', async () => {
    const { sink, text } = slowSink();
    const w = latencyCsv(sink);
    const all = Array.from({ length: 2000 }, (_, i) => row(i));
    const pending: Promise<void>[] = [];
    for (let i = 0; i < all.length; i += 100) pending.push(w.write(all.slice(i, i + 100)));
    pending.push(w.close());
    await Promise.all(pending);
    expect(records(text()).slice(1).map(parseCsvRow)).toEqual(all);
  });

  it('writes the header even when there are no rows', async () => {
    const { sink, text } = slowSink();
    const w = latencyCsv(sink);
    await w.write([]);
    await w.close();
    expect(text()).toBe(CSV_HEADER + '\n');
  });

  it('rejects writes after close', async () => {
    const { sink } = slowSink();
    const w = latencyCsv(sink);
    await w.close();
    await expect(w.write([row(1)])).rejects.toThrow('CSV write of 1 rows after close()');
  });

  it('fails with the stream error instead of hanging or crashing', async () => {
    const broken = new Writable({
      highWaterMark: 16,
      write(_chunk, _enc, cb) {
        setTimeout(() => cb(new Error('ENOSPC: no space left on device')), 1);
      },
    });
    const w = latencyCsv(broken);
    await expect(w.write(Array.from({ length: 100 }, (_, i) => row(i)))).rejects.toThrow(/CSV output failed.*ENOSPC/);
    await expect(w.write([row(1)])).rejects.toThrow(/CSV output failed.*ENOSPC/);
  });
});

describe('CsvWriter.close on a dead stream', () => {
  it('rejects instead of hanging when the stream was destroyed', async () => {
    const { sink } = slowSink();
    const w = latencyCsv(sink);
    await w.write([row(1)]);
    sink.destroy();
    await expect(w.close()).rejects.toThrow('CSV output stream was destroyed before all rows were written');
  });
});
