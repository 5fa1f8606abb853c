import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { LocalBlockStore } from '../blocks/index.js';
import { computeLayout, emptyLayout, type Layout } from '../cluster/index.js';
import { SqliteMetaStore } from '../meta/sqlite/sqlite-store.js';
import { storeLayout } from '../objects/layouts.js';
import { LayoutFollower } from './layout-follower.js';

test('LayoutFollower - a refresh asked for while one runs looks again, so it sees an epoch stored meanwhile', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-follower-'));
  const meta = await SqliteMetaStore.open(join(dir, 'meta.db'));
  try {
    const given: number[][] = [];
    const blocks = { setLayouts: (layouts: readonly Layout[]) => given.push(layouts.map((l) => l.epoch)), settled: () => 0, setSettledEpoch: () => undefined } as unknown as LocalBlockStore;
    const follower = new LayoutFollower({ meta, blocks, history: [] });
    assert.equal(await follower.refresh(), 0);
    const first = computeLayout(emptyLayout({ partitionCount: 16 }), [{ kind: 'addNode', node: { id: 'n1', address: '127.0.0.1:1', zone: 'z' }, drives: [{ id: '00000000000000a1', capacity: 1 }] }]);
    await storeLayout(meta, first);
    const running = follower.refresh();
    await storeLayout(meta, computeLayout(first, [{ kind: 'setCapacity', targetId: '00000000000000a1', capacity: 2 }]));
    const after = follower.refresh();
    assert.ok((await running) >= 1);
    assert.equal(await after, 2);
    assert.equal(follower.epoch, 2);
    assert.deepEqual(given[given.length - 1], [1, 2]);
  } finally {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  }
});
