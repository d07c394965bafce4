// write-or-wait.ts - backpressure for a writer that must not buffer without
// bound: a write the stream cannot take at once is waited out ('drain'), and a
// stream that closes meanwhile ends the wait (its owner notices it is gone).
import type { Writable } from 'node:stream';

/** Writes text; resolves once the stream took it, or drained, or closed. */
export async function writeOrWait(out: Writable, text: string): Promise<void> {
  if (out.write(text)) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      out.off('drain', done).off('close', done);
      resolve();
    };
    out.on('drain', done).on('close', done);
  });
}
