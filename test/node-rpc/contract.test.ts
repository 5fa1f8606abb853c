// Runs the ShardStore contract against RemoteShardStore talking to a real node server in process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BufferPool } from '../../src/blocks/buffer-pool.js';
import { newBlockId } from '../../src/blocks/ids.js';
import { locateShard } from '../../src/blocks/test-helpers.js';
import { runShardStoreContract } from '../contract/shard-store-contract.js';
import { startTestNode } from './helpers.js';

runShardStoreContract('RemoteShardStore', async () => {
  const testNode = await startTestNode();
  return { store: testNode.client().store, cleanup: () => testNode.cleanup() };
});

test('RemoteShardStore - readPooled returns the range as received, taking nothing from the pool', async () => {
  const t = await startTestNode();
  try {
    const { store } = t.client();
    const shard = { blockId: newBlockId(), shardIndex: 5 };
    const data = randomBytes(200_000);
    const writer = await store.createShard(shard, { blockBytes: 64 * 1024 });
    await writer.append(data);
    await writer.commit();
    const reader = await store.openShard(shard, { shardBytes: data.length });
    const pool = new BufferPool({ classBytes: 64 * 1024, classesMax: 8, idleBytesMax: 1024 * 1024 });
    const { pieces, buffer } = await reader.readPooled(70_000, 190_000, pool);
    assert.deepEqual(Buffer.concat(pieces), data.subarray(70_000, 190_000));
    pool.give(buffer);
    assert.equal(pool.idleBytesNow, 0, 'no pool buffer was taken, and giving back what came is harmless');
  } finally {
    await t.cleanup();
  }
});

test('RemoteShardStore - fresh reaches the node: a new block\'s packed shard looks for no older file, a rewrite removes one', async () => {
  const t = await startTestNode();
  try {
    const { store } = t.client();
    for (const fresh of [true, false]) {
      const shard = { blockId: newBlockId(), shardIndex: 2 };
      // A file of the shard's name, as an older copy would be: only a write that is not fresh looks for it.
      const path = t.drive.shardPath(shard.blockId, shard.shardIndex);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, 'an older copy');
      const data = randomBytes(100_000);
      const writer = await store.createShard(shard, { blockBytes: 64 * 1024, fresh });
      await writer.append(data, { last: true });
      await writer.commit();
      const place = await locateShard(t.drive.root, shard.blockId, shard.shardIndex);
      assert.match(place?.path ?? '', /\.pack$/, 'one batch marked last is packed on the node');
      const reader = await store.openShard(shard, { shardBytes: data.length });
      assert.deepEqual(Buffer.concat(await reader.readPieces(0, data.length)), data);
      await reader.close();
      // The older file goes in the background after a rewrite's commit.
      const exists = () => stat(path).then(() => true, () => false);
      for (let i = 0; i < 50 && !fresh && (await exists()); i++) await sleep(20);
      assert.equal(await exists(), fresh, fresh ? 'a fresh write left the file alone' : 'a rewrite removed the older file');
    }
  } finally {
    await t.cleanup();
  }
});
