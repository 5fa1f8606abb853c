import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomFill, randomHex } from './random-pool.js';

test('randomHex - gives lowercase hex of the asked length and never repeats across pool refills', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const hex = randomHex(16);
    assert.match(hex, /^[0-9a-f]{32}$/);
    assert.ok(!seen.has(hex), `Repeated id "${hex}"`);
    seen.add(hex);
  }
});

test('randomFill - writes only the asked bytes of the target', () => {
  const target = Buffer.alloc(32, 0xee);
  for (let i = 0; i < 600; i++) randomFill(target, 8, 16);
  assert.deepEqual(target.subarray(0, 8), Buffer.alloc(8, 0xee));
  assert.deepEqual(target.subarray(24), Buffer.alloc(8, 0xee));
});

test('randomFill - throws when the count is out of range', () => {
  assert.throws(() => randomFill(Buffer.alloc(300), 0, 257));
  assert.throws(() => randomHex(0));
});
