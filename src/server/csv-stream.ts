// csv-stream.ts - GET /api/latencies.csv: a container's records as CSV
// (DESIGN §5 columns), first those still in the store since `since`, then
// live ones until the client disconnects (or, with follow=0, until caught
// up). Rows are read from the store's rings by cursor and written only as
// fast as the client takes them (backpressure); a client so slow that the
// ring overwrote rows it had not read yet is told how many in the trailer
// X-Macebpf-Skipped-Records.
import type { ServerResponse } from 'node:http';
import { CSV_HEADER, csvLines, rowsFromRing, type LatencyRow } from '../core/csv';
import type { Direction } from '../core/records';
import type { StoredContainer } from '../core/store';
import { writeOrWait } from '../host/write-or-wait';
import type { Daemon } from './daemon';

export const SKIPPED_TRAILER = 'X-Macebpf-Skipped-Records';
const CHUNK_ROWS = 2000;

/** The response headers of a container's CSV (also HEAD's answer). */
export function csvHeaders(c: StoredContainer): Record<string, string> {
  const filename = `${c.label.replace(/[^A-Za-z0-9_.-]/g, '_')}-latencies.csv`;
  return {
    'Content-Type': 'text/csv; charset=utf-8',
    'Content-Disposition': `attachment; filename="${filename}"`,
    'Cache-Control': 'no-store',
    Trailer: SKIPPED_TRAILER,
  };
}

export class CsvStream {
  private readonly cursors: Map<Direction, number>;
  private skipped = 0;
  private wake: (() => void) | undefined;
  private ending = false;
  private gone = false;
  readonly done: Promise<void>;

  constructor(
    private readonly daemon: Daemon,
    private readonly c: StoredContainer,
    directions: Direction[],
    sinceT: number,
    private readonly res: ServerResponse,
    private readonly follow: boolean,
  ) {
    // Start each cursor at the first stored record at or after since.
    this.cursors = new Map(directions.map((d) => [d, c.series[d].ring.total - c.series[d].ring.since(sinceT).t.length]));
    res.writeHead(200, csvHeaders(c));
    res.on('close', () => {
      this.gone = true;
      this.wake?.();
    });
    const onRecords = (): void => this.wake?.();
    daemon.on('records', onRecords);
    this.done = this.pump().finally(() => daemon.off('records', onRecords));
  }

  /** Writes what the store still holds for this stream, then ends it (daemon shutdown). */
  finish(): Promise<void> {
    this.ending = true;
    this.wake?.();
    return this.done;
  }

  private async pump(): Promise<void> {
    if (!(await this.write(CSV_HEADER + '\n'))) return;
    for (;;) {
      const rows = this.take();
      if (rows.length) {
        if (!(await this.write(csvLines(rows)))) return;
        continue;
      }
      if (this.gone) return;
      if (!this.follow || this.ending) break;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
    this.res.addTrailers({ [SKIPPED_TRAILER]: String(this.skipped) });
    this.res.end();
  }

  // Up to CHUNK_ROWS new rows of every direction, in time order.
  private take(): LatencyRow[] {
    const rows: LatencyRow[] = [];
    for (const [dir, from] of this.cursors) {
      const got = this.c.series[dir].ring.after(from, CHUNK_ROWS);
      this.skipped += got.skipped;
      this.cursors.set(dir, got.next);
      rows.push(...rowsFromRing(got.cols, this.daemon.tracing.store.baseNs, this.c, dir));
    }
    return rows.sort((a, b) => (a.timestampNs < b.timestampNs ? -1 : a.timestampNs > b.timestampNs ? 1 : 0));
  }

  // false: the client went away.
  private async write(text: string): Promise<boolean> {
    if (this.gone) return false;
    await writeOrWait(this.res, text);
    return !this.gone;
  }
}
