// The read candidates of a block's shards across three layout epochs (issue 11).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeLayout, emptyLayout, targetsFor, type Layout } from '../cluster/index.js';
import { isStoreError } from '../util/errors.js';
import { shardPlaces } from './places.js';
import type { BlockRef } from './types.js';

const drive = (i: number) => ({ id: `d${i}`, capacity: 1 });
const e1 = computeLayout(emptyLayout({ partitionCount: 64 }), [{ kind: 'addNode', node: { id: 'n', address: '', zone: 'z' }, drives: [1, 2, 3, 4].map(drive) }]);
const e2 = computeLayout(e1, [{ kind: 'addDrive', nodeId: 'n', drive: drive(5) }]);
const e3 = computeLayout(e2, [{ kind: 'addDrive', nodeId: 'n', drive: drive(6) }]);
const layouts = new Map<number, Layout>([[1, e1], [2, e2], [3, e3]]);
const refOf = (id: string, epoch: number): BlockRef => ({ id, codec: 'rs-ronomon-v1', redundancy: { kind: 'rs', data: 2, parity: 2 }, size: 1, stripeBytes: 1, epoch });
const ids = Array.from({ length: 64 }, (_, i) => i.toString(16).padStart(32, '0'));
const expected = (id: string, epochs: Layout[]) => {
  const lists = epochs.map((l) => targetsFor(l, id, 4).map((t) => t.id));
  return [0, 1, 2, 3].map((i) => [...new Set(lists.map((l) => l[i]!))]);
};

test('shardPlaces - newest epoch first, then each older one down to the block\'s own, repeats skipped', () => {
  for (const id of ids) {
    assert.deepEqual(shardPlaces({ layouts, newest: e3, settledEpoch: 0 }, refOf(id, 1), 4), expected(id, [e3, e2, e1]));
    assert.deepEqual(shardPlaces({ layouts, newest: e3, settledEpoch: 0 }, refOf(id, 2), 4), expected(id, [e3, e2]));
  }
  assert.ok(ids.some((id) => shardPlaces({ layouts, newest: e3, settledEpoch: 0 }, refOf(id, 1), 4).some((p) => p.length === 3)), 'some shard has three places');
});

test('shardPlaces - nothing older than the settled epoch, and only the newest once it is settled', () => {
  for (const id of ids) {
    assert.deepEqual(shardPlaces({ layouts, newest: e3, settledEpoch: 2 }, refOf(id, 1), 4), expected(id, [e3, e2]));
    assert.deepEqual(shardPlaces({ layouts, newest: e3, settledEpoch: 3 }, refOf(id, 1), 4), expected(id, [e3]));
  }
});

test('shardPlaces - a ref listing its targets is only there; an epoch missing from the history is ERR_LAYOUT_CORRUPT', () => {
  assert.deepEqual(shardPlaces({ layouts, newest: e3, settledEpoch: 0 }, { ...refOf(ids[0]!, 0), targets: ['a', 'b', 'c', 'd'] }, 4), [['a'], ['b'], ['c'], ['d']]);
  assert.throws(() => shardPlaces({ layouts: new Map([[3, e3]]), newest: e3, settledEpoch: 0 }, refOf(ids[0]!, 2), 4), (err) => isStoreError(err, 'ERR_LAYOUT_CORRUPT'));
});

test('shardPlaces - a settled epoch too narrow for the block (a drain left fewer nodes than its width) leaves it at its own epoch\'s places', () => {
  const node = (i: number) => ({ kind: 'addNode' as const, node: { id: `n${i}`, address: '', zone: `z${i}` }, drives: [drive(i)] });
  const wide = computeLayout(emptyLayout({ partitionCount: 64 }), [1, 2, 3, 4].map(node));
  const narrow = computeLayout(wide, [{ kind: 'drainNode', nodeId: 'n4' }]);
  assert.ok(narrow.width < 4, `the drained epoch is ${narrow.width} wide`);
  const history = { layouts: new Map<number, Layout>([[1, wide], [2, narrow]]), newest: narrow, settledEpoch: 2 };
  for (const id of ids) assert.deepEqual(shardPlaces(history, refOf(id, 1), 4), expected(id, [wide]));
});
