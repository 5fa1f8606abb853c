// The block store over a layout of several nodes: the default redundancy counts nodes, a write's quorum
// counts the nodes its shards sit on, and a store without a layout refuses writes until it gets one.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { test } from 'node:test';
import { computeLayout, emptyLayout, type Layout } from '../cluster/index.js';
import { isStoreError } from '../util/errors.js';
import { LocalBlockStore } from './block-store.js';
import { openDriveSet, type LocalDriveSet } from './drive-set.js';
import type { Redundancy } from './types.js';
import { collect, piecesOf, tempDrives } from './test-helpers.js';

/** Local drives standing in for `nodes` nodes of `perNode` drives each, in one zone per node. */
async function withNodes(nodes: number, perNode: number, work: (ctx: { set: LocalDriveSet; layout: Layout; paths: string[] }) => Promise<void>) {
  const drives = await tempDrives(nodes * perNode);
  try {
    const set = await openDriveSet(drives.paths);
    const ids = set.slots.map((s) => s.id);
    const changes = Array.from({ length: nodes }, (_, n) => ({
      kind: 'addNode' as const,
      node: { id: `node${n + 1}`, address: '', zone: `zone-${n + 1}` },
      drives: ids.slice(n * perNode, (n + 1) * perNode).map((id) => ({ id, capacity: 1 })),
    }));
    await work({ set, layout: computeLayout(emptyLayout({ partitionCount: 256 }), changes), paths: drives.paths });
  } finally {
    await drives.cleanup();
  }
}

function storeOver(set: LocalDriveSet, layouts: Layout[], redundancy?: Redundancy): LocalBlockStore {
  return new LocalBlockStore({ targets: set, layouts, ...(redundancy ? { redundancy } : {}) });
}

test('LocalBlockStore - the default redundancy counts nodes, not drives: 3 nodes of 2 drives get RS 2+1', async () => {
  await withNodes(3, 2, async ({ set, layout }) => {
    const store = storeOver(set, [layout]);
    assert.deepEqual(store.defaultRedundancy(), { kind: 'rs', data: 2, parity: 1 });
    const ref = await store.write(piecesOf(randomBytes(100_000)), { id: store.newId() });
    const nodes = store.targetsOf(ref).map((t) => layout.targets.find((x) => x.id === t)!.nodeId);
    assert.equal(new Set(nodes).size, 3, 'one shard per node');
    await store.close();
  });
});

test('LocalBlockStore - 6 nodes get RS 4+2 and a write goes on with one node gone', async () => {
  await withNodes(6, 1, async ({ set, layout, paths }) => {
    const store = storeOver(set, [layout]);
    assert.deepEqual(store.defaultRedundancy(), { kind: 'rs', data: 4, parity: 2 });
    await rename(paths[2]!, `${paths[2]}.away`);
    await store.refreshDrives();
    const data = randomBytes(300_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    await store.close();
  });
});

test('LocalBlockStore - a 4+2 write over 3 nodes is refused when its 5 durable shards would not survive the loss of one node', async () => {
  await withNodes(3, 2, async ({ set, layout, paths }) => {
    const store = storeOver(set, [layout], { kind: 'rs', data: 4, parity: 2 });
    const data = randomBytes(200_000);
    // All six shards durable: any one node may go (4 left).
    const whole = await store.write(piecesOf(data), { id: store.newId() });
    assert.equal(store.targetsOf(whole).length, 6);
    // One drive gone: 5 shards would be durable, 2 of them on each of two nodes; losing either leaves 3.
    await rename(paths[0]!, `${paths[0]}.away`);
    await store.refreshDrives();
    await assert.rejects(store.write(piecesOf(data), { id: store.newId() }), (err) => isStoreError(err, 'ERR_QUORUM_UNREACHABLE') && /distinct nodes/.test(err.message));
    await store.close();
  });
});

test('LocalBlockStore - without a layout, writes fail ERR_NO_LAYOUT until setLayouts gives one', async () => {
  await withNodes(3, 1, async ({ set, layout }) => {
    const store = storeOver(set, []);
    assert.equal(store.currentEpoch(), 0);
    await assert.rejects(store.write(piecesOf(randomBytes(10)), { id: store.newId() }), (err) => isStoreError(err, 'ERR_NO_LAYOUT'));
    store.setLayouts([layout]);
    assert.equal(store.currentEpoch(), 1);
    assert.deepEqual(store.defaultRedundancy(), { kind: 'rs', data: 2, parity: 1 });
    const data = randomBytes(70_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.equal(ref.epoch, 1);
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    await store.close();
  });
});

test('LocalBlockStore - a write does not wait out a probe that never answers (a hung node)', { timeout: 20_000 }, async () => {
  await withNodes(3, 1, async ({ set, layout }) => {
    const hungId = set.slots[1]!.id;
    const real = set.storeOf(hungId)!;
    // The drive still takes shards; only its probe hangs, as a probe of a stopped node waits out its RPC timeout.
    const hung = new Proxy(real, {
      get(target, key) {
        if (key === 'probe') return () => new Promise(() => undefined);
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const targets = { get slots() { return set.slots; }, storeOf: (id: string) => (id === hungId ? hung : set.storeOf(id)), revive: () => set.revive() };
    const store = new LocalBlockStore({ targets, layouts: [layout] });
    const data = randomBytes(150_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    await store.close();
  });
});
