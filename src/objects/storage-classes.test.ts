import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveStorageClass, storageClassTable } from './storage-classes.js';

test('resolveStorageClass - gives the default classes their redundancy when enough failure domains exist', () => {
  assert.deepEqual(resolveStorageClass('GLACIER_IR', {}, 12).redundancy, { kind: 'rs', data: 8, parity: 3 });
  assert.deepEqual(resolveStorageClass('EXPRESS_ONEZONE', {}, 6).redundancy, { kind: 'replicate', copies: 3 });
  assert.deepEqual(resolveStorageClass('REDUCED_REDUNDANCY', {}, 6).redundancy, { kind: 'replicate', copies: 2 });
  assert.equal(resolveStorageClass('STANDARD', {}, 6).redundancy, undefined);
  assert.equal(resolveStorageClass('GLACIER', {}, 6).redundancy, undefined);
});

test('resolveStorageClass - degrades a class too wide for the failure domains and says so', () => {
  const cold = resolveStorageClass('STANDARD_IA', {}, 6);
  assert.equal(cold.redundancy, undefined);
  assert.match(cold.note!, /rs:8\+3 needs 11 failure domains and 6 exist: stored as STANDARD/);
  const hot = resolveStorageClass('EXPRESS_ONEZONE', {}, 1);
  assert.deepEqual(hot.redundancy, { kind: 'replicate', copies: 1 });
  assert.match(hot.note!, /1 copy/);
});

test('resolveStorageClass - prefers the configured mapping over the defaults', () => {
  assert.deepEqual(resolveStorageClass('GLACIER_IR', { GLACIER_IR: { kind: 'rs', data: 2, parity: 1 } }, 3).redundancy, { kind: 'rs', data: 2, parity: 1 });
  const table = storageClassTable({ GLACIER: { kind: 'replicate', copies: 2 } }, 4, { kind: 'rs', data: 2, parity: 2 });
  assert.deepEqual(table.find((c) => c.name === 'STANDARD')!.redundancy, { kind: 'rs', data: 2, parity: 2 });
  assert.deepEqual(table.find((c) => c.name === 'GLACIER')!.redundancy, { kind: 'replicate', copies: 2 });
});
