// The layout history in the MetaStore: stored once per epoch, reused on reopen, a new epoch when drives join.
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openBlockStore } from '../blocks/index.js';
import { collect, piecesOf } from '../blocks/test-helpers.js';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { loadLayouts, loadLayoutsAfter, metaLayoutSource, storeLayout } from './layouts.js';
import { computeLayout, emptyLayout } from '../cluster/index.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-layouts-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('metaLayoutSource - a fresh node stores epoch 1 over its drives once, and a drive that joins gets epoch 2', async () => {
  await withDir(async (dir) => {
    const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
    try {
      const drives = [0, 1, 2].map((i) => join(dir, `d${i}`));
      const open = async (paths: string[]) => openBlockStore({ drives: paths, layouts: await metaLayoutSource(meta) });
      let store = await open(drives);
      const [first] = await loadLayouts(meta);
      assert.equal(first?.epoch, 1);
      assert.deepEqual(first.nodes.map((n) => [n.id, n.zone]), [['local', 'local']]);
      assert.equal(first.targets.length, 3);
      const data = randomBytes(300_000);
      const old = await store.write(piecesOf(data), { id: store.newId() });
      assert.equal(old.epoch, 1);
      assert.equal(old.targets, undefined);
      await store.close();

      store = await open(drives);
      assert.equal((await loadLayouts(meta)).length, 1, 'reopening the same drives stores nothing');
      await store.close();

      store = await open([...drives, join(dir, 'd3')]);
      const history = await loadLayouts(meta);
      assert.deepEqual(history.map((l) => [l.epoch, l.targets.length]), [[1, 3], [2, 4]]);
      // The old block reads through epoch 1's targets; new blocks go by epoch 2.
      assert.deepEqual(await collect(store.read(old, { start: 0, end: data.length })), data);
      const fresh = await store.write(piecesOf(data), { id: store.newId() });
      assert.equal(fresh.epoch, 2);
      assert.deepEqual(await collect(store.read(fresh, { start: 0, end: data.length })), data);
      await store.close();
    } finally {
      await meta.close();
    }
  });
});

test('metaLayoutSource - a start that stopped before storing the layout stores it on the next start', async () => {
  await withDir(async (dir) => {
    const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
    try {
      const drives = [0, 1].map((i) => join(dir, `d${i}`));
      await metaLayoutSource(meta); // loaded, never settled: as if the process died before the commit
      assert.equal((await loadLayouts(meta)).length, 0);
      const store = await openBlockStore({ drives, layouts: await metaLayoutSource(meta) });
      assert.deepEqual((await loadLayouts(meta)).map((l) => l.epoch), [1]);
      await store.close();
    } finally {
      await meta.close();
    }
  });
});

test('storeLayout - stores an epoch once, and loadLayoutsAfter finds the epochs after a given one', async () => {
  await withDir(async (dir) => {
    const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
    try {
      assert.deepEqual(await loadLayoutsAfter(meta, 0), []);
      const first = computeLayout(emptyLayout({ partitionCount: 16 }), [{ kind: 'addNode', node: { id: 'n1', address: '127.0.0.1:1', zone: 'z1' }, drives: [{ id: '00000000000000a1', capacity: 1 }] }]);
      assert.equal(await storeLayout(meta, first), true);
      assert.equal(await storeLayout(meta, first), false, 'the epoch is taken');
      const second = computeLayout(first, [{ kind: 'addNode', node: { id: 'n2', address: '127.0.0.1:2', zone: 'z2' }, drives: [{ id: '00000000000000a2', capacity: 1 }] }]);
      assert.equal(await storeLayout(meta, second), true);
      assert.deepEqual((await loadLayoutsAfter(meta, 0)).map((l) => l.epoch), [1, 2]);
      assert.deepEqual((await loadLayoutsAfter(meta, 1)).map((l) => l.epoch), [2]);
      assert.deepEqual(await loadLayoutsAfter(meta, 2), []);
    } finally {
      await meta.close();
    }
  });
});
