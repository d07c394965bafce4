// The CSV export contract (DESIGN §5): one row per latency record, columns in
// a fixed order, an empty field for a part that was not observed. Rows end in
// LF (not RFC 4180's CRLF) so that line tools work; fields are quoted per
// RFC 4180 only when needed.
import type { Writable } from 'node:stream';

export const CSV_HEADER = 'timestamp_ns,container,netns,direction,protocol,latency_ns,stack_ns,virt_ns,packet_id';

export interface LatencyRow {
  timestampNs: bigint; // wall clock, ns since the epoch
  container: string; // user label
  netns: number; // netns inode
  direction: 'egress' | 'ingress';
  protocol: string;
  latencyNs: number;
  stackNs: number | null; // null = part not observed
  virtNs: number | null;
  packetId: number; // ICMP sequence, TCP sequence or key hash
}

const COLUMNS = CSV_HEADER.split(',');

function quote(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** One CSV record without the line terminator. */
export function formatCsvRow(row: LatencyRow): string {
  return [
    row.timestampNs.toString(),
    quote(row.container),
    String(row.netns),
    row.direction,
    quote(row.protocol),
    String(row.latencyNs),
    row.stackNs === null ? '' : String(row.stackNs),
    row.virtNs === null ? '' : String(row.virtNs),
    String(row.packetId),
  ].join(',');
}

// Splits one RFC 4180 record (quoted fields may contain , " CR LF).
function splitRecord(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const close = line.indexOf('"', i);
        if (close < 0) throw new Error(`bad CSV row ${JSON.stringify(line)}: unterminated quoted field; quotes inside a field must be doubled ("")`);
        field += line.slice(i, close);
        i = close + 1;
        if (line[i] !== '"') break;
        field += '"';
        i++;
      }
      if (i < line.length && line[i] !== ',') {
        throw new Error(`bad CSV row ${JSON.stringify(line)}: text after a closing quote at offset ${i}; quote the whole field`);
      }
    } else {
      const comma = line.indexOf(',', i);
      field = line.slice(i, comma < 0 ? line.length : comma);
      i = comma < 0 ? line.length : comma;
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // skip the comma
  }
}

/** Parses one record produced by formatCsvRow (a trailing CR/LF is ignored). */
export function parseCsvRow(line: string): LatencyRow {
  const text = line.replace(/\r?\n$/, '');
  const f = splitRecord(text);
  const bad = (col: number, want: string): never => {
    throw new Error(`bad CSV row ${JSON.stringify(text)}: ${COLUMNS[col]} is ${JSON.stringify(f[col])}, expected ${want}`);
  };
  if (f.length !== COLUMNS.length) {
    throw new Error(`bad CSV row ${JSON.stringify(text)}: ${f.length} fields, expected ${COLUMNS.length} (${CSV_HEADER})`);
  }
  const int = (col: number): number => (/^\d+$/.test(f[col]) && Number.isSafeInteger(Number(f[col])) ? Number(f[col]) : bad(col, 'a non-negative integer'));
  const num = (col: number): number => (f[col] !== '' && Number.isFinite(Number(f[col])) ? Number(f[col]) : bad(col, 'a number'));
  const part = (col: number): number | null => (f[col] === '' ? null : num(col));
  const direction = f[3];
  if (direction !== 'egress' && direction !== 'ingress') bad(3, 'egress or ingress');
  return {
    timestampNs: /^\d+$/.test(f[0]) ? BigInt(f[0]) : bad(0, 'a non-negative integer'),
    container: f[1],
    netns: int(2),
    direction: direction as LatencyRow['direction'],
    protocol: f[4],
    latencyNs: num(5),
    stackNs: part(6),
    virtNs: part(7),
    packetId: int(8),
  };
}

// Rows are batched into chunks of about this size: one stream write per
// chunk keeps the per-row cost low without building huge strings.
const CHUNK_CHARS = 16 * 1024;

/**
 * Writes rows to a stream, header first. Honours backpressure: when the
 * stream's buffer is full it waits for 'drain' instead of buffering without
 * bound, and it never drops rows. Calls are serialised, so rows appear in
 * call order even if the caller does not await each write().
 */
export class CsvWriter {
  private headerDone = false;
  private failure: Error | null = null;
  private queue: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  constructor(private readonly out: Writable) {
    // Keep the error for the next call rather than crashing on an unhandled 'error'.
    out.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  write(rows: readonly LatencyRow[]): Promise<void> {
    if (this.closing) return Promise.reject(new Error(`CSV write of ${rows.length} rows after close(); write all rows before closing`));
    return this.enqueue(() => this.writeNow(rows));
  }

  /** Writes the header if nothing was written, ends the stream and waits until it has flushed. */
  close(): Promise<void> {
    this.closing ??= this.enqueue(async () => {
      await this.writeNow([]);
      this.check(); // an errored or destroyed stream never emits 'finish'
      const finished = this.until('finish');
      this.out.end();
      await finished;
    });
    return this.closing;
  }

  private enqueue(job: () => Promise<void>): Promise<void> {
    const result = this.queue.then(job);
    this.queue = result.catch(() => undefined); // one failed call must not wedge later ones
    return result;
  }

  private async writeNow(rows: readonly LatencyRow[]): Promise<void> {
    let chunk = '';
    if (!this.headerDone) {
      chunk = CSV_HEADER + '\n';
      this.headerDone = true;
    }
    for (const row of rows) {
      chunk += formatCsvRow(row) + '\n';
      if (chunk.length >= CHUNK_CHARS) {
        await this.put(chunk);
        chunk = '';
      }
    }
    if (chunk) await this.put(chunk);
  }

  private async put(chunk: string): Promise<void> {
    this.check();
    if (!this.out.write(chunk)) await this.until('drain');
    this.check();
  }

  // Waits for `event`; fails instead of hanging when the stream errors or
  // closes first (a destroyed stream never emits 'drain' or 'finish').
  private until(event: 'drain' | 'finish'): Promise<void> {
    const out = this.out;
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        out.off(event, onEvent).off('error', onError).off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onEvent = (): void => done();
      const onError = (err: Error): void => done(new Error(`CSV output failed while waiting for '${event}': ${err.message}; check the file's path, permissions and free space`));
      const onClose = (): void => done(new Error(`CSV output stream closed while waiting for '${event}'; rows not yet flushed may be lost`));
      out.on(event, onEvent).on('error', onError).on('close', onClose);
    });
  }

  private check(): void {
    if (this.failure) throw new Error(`CSV output failed: ${this.failure.message}; check the file's path, permissions and free space`);
    if (this.out.destroyed) throw new Error('CSV output stream was destroyed before all rows were written; rows since then are lost');
  }
}
