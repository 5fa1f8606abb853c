import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import { raceAbort } from './streams.js';

/** Runs `work` and returns the unhandled rejections it left behind, once they have had time to surface. */
async function unhandledDuring(work: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', onUnhandled);
  try {
    await work();
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  return seen;
}

test('raceAbort - leaves no unhandled rejection when the signal was already aborted (issue 2: a client gone mid-PUT crashed the server)', async () => {
  const controller = new AbortController();
  controller.abort();
  let fail!: (err: Error) => void;
  const pending = new Promise<never>((_, reject) => (fail = reject));
  const unhandled = await unhandledDuring(async () => {
    await assert.rejects(raceAbort(pending, controller.signal), (err) => isStoreError(err) && err.code === 'ERR_ABORTED');
    fail(new Error('aborted')); // what an IncomingMessage does once its socket closes
  });
  assert.deepEqual(unhandled, []);
});
