import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkRedundancy, defaultRedundancyFor, writeQuorumOf } from './redundancy.js';

test('defaultRedundancyFor - by drive count', () => {
  assert.deepEqual(defaultRedundancyFor(1), { kind: 'replicate', copies: 1 });
  assert.deepEqual(defaultRedundancyFor(2), { kind: 'replicate', copies: 2 });
  assert.deepEqual(defaultRedundancyFor(3), { kind: 'rs', data: 2, parity: 1 });
  assert.deepEqual(defaultRedundancyFor(4), { kind: 'rs', data: 2, parity: 2 });
  assert.deepEqual(defaultRedundancyFor(5), { kind: 'rs', data: 3, parity: 2 });
  assert.deepEqual(defaultRedundancyFor(6), { kind: 'rs', data: 4, parity: 2 });
  assert.deepEqual(defaultRedundancyFor(20), { kind: 'rs', data: 4, parity: 2 });
});

test('writeQuorumOf - one spare shard when at least two exist, none otherwise', () => {
  assert.equal(writeQuorumOf({ kind: 'rs', data: 4, parity: 2 }), 5);
  assert.equal(writeQuorumOf({ kind: 'rs', data: 8, parity: 3 }), 9);
  assert.equal(writeQuorumOf({ kind: 'rs', data: 2, parity: 1 }), 2);
  assert.equal(writeQuorumOf({ kind: 'rs', data: 2, parity: 2 }), 3);
  assert.equal(writeQuorumOf({ kind: 'replicate', copies: 1 }), 1);
  assert.equal(writeQuorumOf({ kind: 'replicate', copies: 2 }), 1);
  assert.equal(writeQuorumOf({ kind: 'replicate', copies: 3 }), 2);
});

test('checkRedundancy - RangeError for invalid settings', () => {
  assert.throws(() => checkRedundancy({ kind: 'rs', data: 0, parity: 2 }, 6), RangeError);
  assert.throws(() => checkRedundancy({ kind: 'rs', data: 4, parity: 7 }, 20), RangeError);
  assert.throws(() => checkRedundancy({ kind: 'replicate', copies: 1.5 }, 6), RangeError);
  assert.throws(() => checkRedundancy({ kind: 'replicate', copies: 4 }, 3), RangeError);
});
