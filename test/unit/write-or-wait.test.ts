// writeOrWait: a write the stream cannot take at once is waited out until
// 'drain' (nothing piles up), and a stream that closes meanwhile ends the wait.
import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import { writeOrWait } from '../../src/host/write-or-wait';

// A sink with a 4-byte buffer that takes each chunk only when released.
function heldSink(): { sink: Writable; release: () => void } {
  const pending: Array<() => void> = [];
  const sink = new Writable({ highWaterMark: 4, write: (_c, _e, cb) => void pending.push(cb) });
  return { sink, release: () => pending.splice(0).forEach((cb) => cb()) };
}

const settled = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
};

it('resolves at once while the stream takes the write', async () => {
  const { sink } = heldSink();
  expect(await settled(writeOrWait(sink, 'ab'))).toBe(true);
});

it('waits for drain when the buffer is full, and resolves after it', async () => {
  const { sink, release } = heldSink();
  const p = writeOrWait(sink, 'a sample longer than the buffer');
  expect(await settled(p), 'resolved before drain').toBe(false);
  release();
  expect(await settled(p)).toBe(true);
  expect(sink.listenerCount('drain') + sink.listenerCount('close')).toBe(0);
});

it('ends the wait when the stream closes instead of draining', async () => {
  const { sink } = heldSink();
  const p = writeOrWait(sink, 'a sample longer than the buffer');
  expect(await settled(p)).toBe(false);
  sink.destroy();
  expect(await settled(p)).toBe(true);
});
