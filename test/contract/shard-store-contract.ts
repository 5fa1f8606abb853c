// The ShardStore contract, written once and run against every implementation (local drives now, the
// node RPC client later): write → commit → verified reads, stat, inventory, deletes, probe, aborts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isStoreError } from '../../src/util/errors.js';
import { newBlockId } from '../../src/blocks/ids.js';
import type { ShardName, ShardStore } from '../../src/blocks/shard-store.js';

const blockBytes = 64 * 1024;

export function runShardStoreContract(name: string, open: () => Promise<{ store: ShardStore; cleanup(): Promise<void> }>): void {
  const withStore = (title: string, body: (store: ShardStore) => Promise<void>) =>
    test(`${name} - ${title}`, async () => {
      const { store, cleanup } = await open();
      try {
        await body(store);
      } finally {
        await cleanup();
      }
    });

  async function put(store: ShardStore, shard: ShardName, data: Buffer): Promise<void> {
    const writer = await store.createShard(shard, { blockBytes });
    await writer.append(data.subarray(0, 1000));
    await writer.append(data.subarray(1000));
    await writer.commit();
  }

  withStore('createShard and commit, then openShard reads every range verified', async (store) => {
    const shard = { blockId: newBlockId(), shardIndex: 2 };
    const data = randomBytes(2 * blockBytes + 333);
    await put(store, shard, data);
    const reader = await store.openShard(shard, { shardBytes: data.length });
    try {
      for (const [start, end] of [[0, data.length], [blockBytes - 1, blockBytes + 1], [data.length - 1, data.length]] as const) {
        assert.deepEqual(Buffer.concat(await reader.readPieces(start, end)), data.subarray(start, end));
      }
    } finally {
      await reader.close();
    }
  });

  // A store may check at the open or, to save a round trip, at the first read (the node RPC client).
  const openAndRead = async (store: ShardStore, shard: ShardName, shardBytes: number) => {
    const reader = await store.openShard(shard, { shardBytes });
    try {
      await reader.readPieces(0, Math.min(1, shardBytes));
    } finally {
      await reader.close();
    }
  };

  withStore('openShard (or its first read) fails ERR_SHARD_MISSING when absent and ERR_SHARD_CORRUPT for a wrong length', async (store) => {
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    await assert.rejects(openAndRead(store, shard, 10), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
    await put(store, shard, randomBytes(2000));
    await assert.rejects(openAndRead(store, shard, 1999), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    await assert.rejects(openAndRead(store, shard, 2001), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    await openAndRead(store, shard, 2000);
  });

  withStore('an aborted shard leaves nothing readable; only a commit makes it visible', async (store) => {
    const shard = { blockId: newBlockId(), shardIndex: 1 };
    const writer = await store.createShard(shard, { blockBytes });
    await writer.append(randomBytes(5000));
    assert.equal(await store.statShard(shard), undefined);
    await writer.abort();
    await writer.abort(); // twice is fine
    assert.equal(await store.statShard(shard), undefined);
    assert.equal(await store.deleteBlock(shard.blockId), 0);
  });

  withStore('statShard, listPrefixes and listShards describe committed shards; deletes are idempotent', async (store) => {
    const blockId = newBlockId();
    await put(store, { blockId, shardIndex: 0 }, randomBytes(1500));
    await put(store, { blockId, shardIndex: 3 }, randomBytes(1500));
    const stat = await store.statShard({ blockId, shardIndex: 3 });
    assert.ok(stat && stat.bytes > 1500 && stat.mtimeMs > 0 && !stat.tmp);
    const first = blockId.slice(0, 2);
    const second = blockId.slice(2, 4);
    assert.ok((await store.listPrefixes(undefined)).includes(first));
    assert.deepEqual(await store.listPrefixes(first), [second]);
    const listed = (await store.listShards(first, second)).filter((s) => s.blockId === blockId);
    assert.deepEqual(listed.map((s) => s.shardIndex), [0, 3]);
    await store.deleteShard({ blockId, shardIndex: 0 });
    await store.deleteShard({ blockId, shardIndex: 0 });
    assert.equal(await store.statShard({ blockId, shardIndex: 0 }), undefined);
    assert.equal(await store.deleteBlock(blockId), 1);
    assert.deepEqual((await store.listShards(first, second)).filter((s) => s.blockId === blockId), []);
  });

  withStore('probe answers ok with the capacity of the target', async (store) => {
    const health = await store.probe();
    assert.equal(health.state, 'ok');
    assert.ok((health.totalBytes ?? 0) > 0 && (health.freeBytes ?? -1) >= 0);
  });

  withStore('calls with an aborted signal reject with ERR_ABORTED', async (store) => {
    const signal = AbortSignal.abort();
    const shard = { blockId: newBlockId(), shardIndex: 0 };
    await assert.rejects(store.createShard(shard, { blockBytes, signal }), (err) => isStoreError(err, 'ERR_ABORTED'));
    await assert.rejects(store.probe({ signal }), (err) => isStoreError(err, 'ERR_ABORTED'));
    await assert.rejects(store.listPrefixes(undefined, { signal }), (err) => isStoreError(err, 'ERR_ABORTED'));
  });
}
