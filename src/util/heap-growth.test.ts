import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heapGrowthFlag, heapGrowingPercent } from './heap-growth.js';

test('heapGrowthFlag - sets the growth factor when node was given none', () => {
  assert.equal(heapGrowthFlag([]), `--heap-growing-percent=${heapGrowingPercent}`);
  assert.equal(heapGrowthFlag(['--enable-source-maps', '--max-old-space-size=512']), `--heap-growing-percent=${heapGrowingPercent}`);
});

test('heapGrowthFlag - leaves the operator\'s own value alone when node was given one', () => {
  assert.equal(heapGrowthFlag(['--heap-growing-percent=50']), undefined);
  assert.equal(heapGrowthFlag(['--heap_growing_percent=50']), undefined);
});
