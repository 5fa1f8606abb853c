// DriveIo bounds every call on a drive: timeouts, suspicion, the in-flight cap, probes and cleanups.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import { DriveIo } from './drive-io.js';

// The watchdog's timer is unref'd (a real hung call keeps the loop alive through its threadpool request);
// these fake calls are bare promises, so something must keep the loop running while they wait.
const keepAlive = setInterval(() => undefined, 1000);
after(() => clearInterval(keepAlive));

/** A call that answers only when `answer` is called, as a hung drive's does once it recovers. */
function stuck<T>(): { call: () => Promise<T>; answer: (value: T) => void } {
  let answer!: (value: T) => void;
  const pending = new Promise<T>((resolve) => (answer = resolve));
  return { call: () => pending, answer };
}

test('DriveIo - a call that does not answer fails ERR_TARGET_TIMEOUT and makes the drive suspect', async () => {
  const io = new DriveIo('/d', { timeoutMs: 50, inFlightMax: 4 });
  const hung = stuck<string>();
  const late: string[] = [];
  await assert.rejects(io.run(hung.call, (v) => late.push(v)), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
  assert.equal(io.suspect, true);
  hung.answer('handle');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(late, ['handle'], 'a late answer goes to the cleanup callback');
});

test('DriveIo - while suspect, calls fail at once as missing, and a probe that answers clears it', async () => {
  const io = new DriveIo('/d', { timeoutMs: 50, inFlightMax: 4 });
  assert.equal(io.answersNow, true);
  await assert.rejects(io.run(stuck<void>().call), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
  assert.equal(io.answersNow, false, 'no page-cache read skips the check while suspect');
  let called = false;
  await assert.rejects(
    io.run(async () => (called = true)),
    (err) => isStoreError(err, 'ERR_SHARD_MISSING'),
  );
  assert.equal(called, false, 'a suspect drive gets no new calls');
  assert.equal(await io.probe(async () => 'ok'), 'ok');
  assert.equal(io.suspect, false);
  assert.equal(io.answersNow, true);
  assert.equal(await io.run(async () => 7), 7);
});

test('DriveIo - a probe still stuck fails the next probe at once, never stacking threads', async () => {
  const io = new DriveIo('/d', { timeoutMs: 50, inFlightMax: 4 });
  const hung = stuck<string>();
  await assert.rejects(io.probe(hung.call), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
  let calls = 0;
  await assert.rejects(io.probe(async () => ++calls), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
  assert.equal(calls, 0);
  hung.answer('late');
  await new Promise((r) => setImmediate(r));
  assert.equal(await io.probe(async () => 'again'), 'again');
});

test('DriveIo - probes at the same time share one call and its answer', async () => {
  const io = new DriveIo('/d', { timeoutMs: 1000, inFlightMax: 4 });
  let calls = 0;
  const probe = () => io.probe(async () => ++calls);
  assert.deepEqual(await Promise.all([probe(), probe(), probe()]), [1, 1, 1]);
  assert.equal(await probe(), 2);
});

test('DriveIo - calls beyond the cap wait, and fail as missing when the ones ahead time out', async () => {
  const io = new DriveIo('/d', { timeoutMs: 50, inFlightMax: 2 });
  const issued: number[] = [];
  const hung = [stuck<void>(), stuck<void>()];
  const first = hung.map((h, i) => io.run(() => (issued.push(i), h.call())));
  const queued = io.run(async () => void issued.push(2));
  for (const p of [...first, queued]) p.catch(() => undefined); // asserted below, after the timeouts
  assert.deepEqual(issued, [0, 1], 'the third call waits for a slot');
  await assert.rejects(first[0]!, (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
  // The second call's timer may fire after the first made the drive suspect: then it fails as missing.
  await assert.rejects(first[1]!, (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT') || isStoreError(err, 'ERR_SHARD_MISSING'));
  await assert.rejects(queued, (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
  assert.deepEqual(issued, [0, 1], 'the hung drive never got the third call');
});

test('DriveIo - a cleanup resolves within a timeout on a hung drive and still runs once it answers', async () => {
  const io = new DriveIo('/d', { timeoutMs: 50, inFlightMax: 1 });
  const hung = stuck<void>();
  const blocked = io.run(hung.call);
  blocked.catch(() => undefined);
  let closed = false;
  await io.cleanup(async () => void (closed = true)); // queued behind the hung call; resolves anyway
  assert.equal(closed, false);
  hung.answer();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(closed, true);
});

test('DriveIo - a call of several steps gets the timeout once per step', async () => {
  const io = new DriveIo('/d', { timeoutMs: 50, inFlightMax: 4 });
  const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve('done'), 90));
  assert.equal(await io.run(slow, undefined, 3), 'done');
  assert.equal(io.suspect, false);
  await assert.rejects(io.run(stuck<void>().call, undefined, 2), (err) => isStoreError(err, 'ERR_TARGET_TIMEOUT'));
});
