// Runs the ShardStore contract against RemoteShardStore talking to a real node server in process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BufferPool } from '../../src/blocks/buffer-pool.js';
import { newBlockId } from '../../src/blocks/ids.js';
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
