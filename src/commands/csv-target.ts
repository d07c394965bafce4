// csv-target.ts - where `--csv PATH` writes: a file, or standard output for
// "-" (then the command's own lines and tables go to stderr, so that the CSV
// on stdout stays clean for the next program in a pipe).
import { createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';

export const CSV_TO_STDOUT = '-';

export interface CsvTarget {
  /** the CSV's stream; undefined without --csv */
  stream?: Writable;
  /** where the command's human-readable output goes */
  human: NodeJS.WriteStream;
  /** where a live table may be drawn: not where CSV rows are printed on the same terminal */
  live?: NodeJS.WriteStream;
  /** Ends the CSV (its writer's close). A reader of stdout that went away is
   * how a `--csv - | head` run ends, not an error: entry.ts already stops
   * the process for it (exit 141), so its broken pipe is not reported again. */
  close(closeWriter: () => Promise<void>): Promise<void>;
}

/** Opens the file at once, so that a path that cannot be written fails before anything is loaded. */
export function csvTarget(path: string | undefined): CsvTarget {
  if (path !== CSV_TO_STDOUT) {
    const stream = path === undefined ? undefined : createWriteStream(path, { fd: openFile(path) });
    return { stream, human: process.stdout, live: process.stdout, close: (c) => c() };
  }
  // Broken pipe (EPIPE) on stdout: its reader went away.
  let readerGone = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') readerGone = true;
  });
  return {
    stream: process.stdout,
    human: process.stderr,
    live: process.stdout.isTTY === true ? undefined : process.stderr,
    close: async (closeWriter) => {
      try {
        await closeWriter();
      } catch (err) {
        if (!readerGone) throw err;
      }
    },
  };
}

function openFile(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (err) {
    throw new Error(`cannot write the CSV to ${path}: ${(err as Error).message}; check the file's path and permissions`);
  }
}
