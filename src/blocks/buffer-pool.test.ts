import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from './buffer-pool.js';

const options = { classBytes: 1000, classesMax: 4, idleBytesMax: 5000 };

test('BufferPool - a buffer given back is lent again for a read of the same class', () => {
  const pool = new BufferPool(options);
  const a = pool.take(1500);
  assert.equal(a.length, 2000);
  pool.give(a);
  assert.equal(pool.take(1001), a);
  assert.notEqual(pool.take(1001), a, 'a lent buffer is not lent twice');
});

test('BufferPool - giving a buffer back twice is a bug, caught before two readers share it', () => {
  const pool = new BufferPool(options);
  const a = pool.take(1000);
  pool.give(a);
  assert.throws(() => pool.give(a), /twice/);
});

test('BufferPool - keeps no more idle bytes than its bound, and ignores buffers it did not make', () => {
  const pool = new BufferPool(options);
  const taken = [1, 2, 3, 4].map(() => pool.take(2000));
  for (const b of taken) pool.give(b);
  assert.equal(pool.idleBytesNow, 4000); // the third 2,000-byte buffer would pass 5,000
  pool.give(Buffer.alloc(1000));
  pool.give(taken[0]!.subarray(0, 1000));
  assert.equal(pool.idleBytesNow, 4000);
});

test('BufferPool - reads above the largest class get an exact, unpooled buffer', () => {
  const pool = new BufferPool(options);
  const big = pool.take(4001);
  assert.equal(big.length, 4001);
  pool.give(big);
  assert.equal(pool.idleBytesNow, 0);
});
