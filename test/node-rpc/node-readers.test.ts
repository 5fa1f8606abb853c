// The node's cache of open shard files must never serve bytes a fresh open would not: a shard deleted
// or rewritten through the node is read as it is now, not through the descriptor of the old file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newBlockId } from '../../src/blocks/ids.js';
import type { ShardName, ShardStore } from '../../src/blocks/shard-store.js';
import { isStoreError } from '../../src/util/errors.js';
import { startTestNode } from './helpers.js';

async function put(store: ShardStore, shard: ShardName, data: Buffer): Promise<void> {
  const writer = await store.createShard(shard, { blockBytes: 64 * 1024 });
  await writer.append(data);
  await writer.commit();
}

async function read(store: ShardStore, shard: ShardName, shardBytes: number): Promise<Buffer> {
  const reader = await store.openShard(shard, { shardBytes });
  return Buffer.concat(await reader.readPieces(0, shardBytes));
}

test('node RPC - a shard deleted through the node is missing at once, though its file was open in the node cache', async () => {
  const t = await startTestNode();
  try {
    const { store } = t.client();
    const data = randomBytes(100_000);
    const one = { blockId: newBlockId(), shardIndex: 0 };
    await put(store, one, data);
    assert.deepEqual(await read(store, one, data.length), data);
    await store.deleteShard(one);
    await assert.rejects(read(store, one, data.length), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));

    const two = { blockId: newBlockId(), shardIndex: 3 };
    await put(store, two, data);
    assert.deepEqual(await read(store, two, data.length), data);
    await store.deleteBlock(two.blockId);
    await assert.rejects(read(store, two, data.length), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
  } finally {
    await t.cleanup();
  }
});

test('node RPC - a shard rewritten through the node (heal) is read as rewritten, not through the old descriptor', async () => {
  const t = await startTestNode();
  try {
    const { store } = t.client();
    const shard = { blockId: newBlockId(), shardIndex: 1 };
    const before = randomBytes(100_000);
    const after = randomBytes(100_000);
    await put(store, shard, before);
    assert.deepEqual(await read(store, shard, before.length), before);
    await put(store, shard, after);
    assert.deepEqual(await read(store, shard, after.length), after);
  } finally {
    await t.cleanup();
  }
});
