// csv-writer.ts - writes latency rows as CSV (core/csv.ts) to a stream.
import type { Writable } from 'node:stream';
import { CSV_HEADER, formatCsvRow, type LatencyRow } from '../core/csv';

// Rows are batched into chunks of about this size: one stream write per
// chunk keeps the per-row cost low without building huge strings.
const CHUNK_CHARS = 16 * 1024;

/**
 * Writes rows to a stream, header first. Honours backpressure: when the
 * stream's buffer is full it waits for 'drain' instead of buffering without
 * bound, and it never drops rows. Calls are serialised, so rows appear in
 * call order even if the caller does not await each write().
 */
export class CsvWriter<Row> {
  private headerDone = false;
  private failure: Error | null = null;
  private queue: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly out: Writable,
    private readonly header: string,
    private readonly format: (row: Row) => string,
  ) {
    // Keep the error for the next call rather than crashing on an unhandled 'error'.
    out.on('error', (err: Error) => {
      this.failure ??= err;
    });
  }

  write(rows: readonly Row[]): Promise<void> {
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

  private async writeNow(rows: readonly Row[]): Promise<void> {
    let chunk = '';
    if (!this.headerDone) {
      chunk = this.header + '\n';
      this.headerDone = true;
    }
    for (const row of rows) {
      chunk += this.format(row) + '\n';
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

/** The latency records CSV of DESIGN §5. */
export function latencyCsv(out: Writable): CsvWriter<LatencyRow> {
  return new CsvWriter(out, CSV_HEADER, formatCsvRow);
}
