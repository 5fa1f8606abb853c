import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Semaphore } from './semaphore.js';

test('Semaphore - holds at most its permits and serves waiters in arrival order', async () => {
  const s = new Semaphore(2);
  const order: number[] = [];
  await s.acquire();
  await s.acquire();
  const waits = [1, 2, 3].map((n) => s.acquire().then(() => order.push(n)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, []);
  s.release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [1]);
  s.release();
  s.release();
  await Promise.all(waits);
  assert.deepEqual(order, [1, 2, 3]);
  for (let i = 0; i < 2; i++) s.release();
  assert.equal(s.free, 2);
  assert.throws(() => s.release(), /more often/);
});

test('Semaphore - an aborted wait leaves the queue and takes no permit', async () => {
  const s = new Semaphore(1);
  await s.acquire();
  const controller = new AbortController();
  const aborted = s.acquire(controller.signal);
  const next = s.acquire();
  controller.abort(new Error('gone'));
  await assert.rejects(aborted, /gone/);
  s.release();
  await next; // the permit skipped the aborted waiter
  s.release();
  assert.equal(s.free, 1);
});
