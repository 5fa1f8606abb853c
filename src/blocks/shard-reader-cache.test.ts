import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, readdir, readlink, rename, unlink } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import type { LeasedBytes } from './types.js';
import type { LocalBlockStore, ShardDamage } from './index.js';
import type { ShardReader } from './shard-file.js';
import { ShardReaderCache } from './shard-reader-cache.js';
import { flipByte, flipShardByte, piecesOf, removeShard, shardFile, suiteStore, type TempStore } from './test-helpers.js';

async function leasedBytes(leases: AsyncIterable<LeasedBytes>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const lease of leases) {
    out.push(Buffer.concat([...lease.pieces]));
    lease.release();
  }
  return Buffer.concat(out);
}

describe('ShardReaderCache in LocalBlockStore with one drive', () => {
  let drives: TempStore['drives'];
  let store: LocalBlockStore;
  let damage: ShardDamage[];

  suiteStore(1, (fixture) => ({ drives, store, damage } = fixture));

  const readAll = (ref: { size: number } & Parameters<LocalBlockStore['readLeased']>[0]) => leasedBytes(store.readLeased(ref, { start: 0, end: ref.size }));

  test('readLeased - a shard another process healed is read from the new file, not the stale cached handle', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 99);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    const path = shardFile(drives.paths[0]!, ref.id, 0);
    await copyFile(path, `${path}.good`);
    assert.deepEqual(await readAll(ref), data); // caches the open handle
    // Rot in place (the cached handle sees it), then "heal" it elsewhere: a good file renamed over the path.
    await flipByte(path, 1_500_000);
    await rename(`${path}.good`, path);
    damage.length = 0;
    assert.deepEqual(await readAll(ref), data);
    assert.deepEqual(damage, [], 'a stale cached handle is not damage');
  });

  test('readLeased - damage is still reported when the file on the drive is corrupt', async () => {
    const data = randomBytes(300_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await readAll(ref), data);
    await flipShardByte(drives.paths[0]!, ref.id, 0, 100_000);
    damage.length = 0;
    await assert.rejects(readAll(ref), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    assert.equal(damage.length, 1);
    assert.equal(damage[0]?.reason, 'corrupt');
  });

  test('readLeased - a block deleted by this store is not read through a cached handle', async () => {
    const data = randomBytes(200_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await readAll(ref), data);
    await store.delete(ref);
    await assert.rejects(readAll(ref), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
  });

  test('readLeased - a shard file another process deleted still reads its exact bytes through the open handle', async () => {
    // GC deletes only shards that no current metadata references, after a delay; a read that began
    // before then must finish with the right bytes, which an open descriptor guarantees on Linux.
    const data = randomBytes(200_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await readAll(ref), data);
    await removeShard(drives.paths[0]!, ref.id, 0); // its file, or its pack row (the pack's descriptor stays open)
    assert.deepEqual(await readAll(ref), data);
  });

  test('refreshDrives - later reads open the files afresh, so a drive removed after it is reported, not read through old handles', async () => {
    const data = randomBytes(200_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await readAll(ref), data); // its shard reader is cached now
    await store.refreshDrives();
    const drive = drives.paths[0]!;
    await rename(drive, `${drive}.away`);
    try {
      damage.length = 0;
      await assert.rejects(readAll(ref), (err) => isStoreError(err));
      assert.ok(damage.some((d) => d.reason === 'missing' && d.ref.id === ref.id), 'the removed drive is reported');
    } finally {
      await rename(`${drive}.away`, drive);
      await store.refreshDrives();
    }
    assert.deepEqual(await readAll(ref), data);
  });

  test('refreshDrives - a drive found missing keeps none of its files open', async () => {
    const data = randomBytes(200_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await readAll(ref), data);
    const drive = drives.paths[0]!;
    const openUnder = async (dir: string) => {
      let count = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target.startsWith(`${dir}/`)) count++;
      }
      return count;
    };
    await rename(drive, `${drive}.away`);
    try {
      assert.ok((await openUnder(`${drive}.away`)) > 0, 'the cached reader holds the moved file');
      await store.refreshDrives();
      await new Promise((r) => setTimeout(r, 50)); // closing is asynchronous
      assert.equal(await openUnder(`${drive}.away`), 0);
    } finally {
      await rename(`${drive}.away`, drive);
      await store.refreshDrives();
    }
  });
});

describe('ShardReaderCache', () => {
  function fakeReader(closed: string[], name: string): ShardReader {
    return { close: async () => void closed.push(name) } as unknown as ShardReader;
  }

  test('acquire - one open per key while cached; the least recently used idle entry is closed past the bound', async () => {
    const closed: string[] = [];
    let opens = 0;
    const cache = new ShardReaderCache({ entriesMax: 2, idleMsMax: 60_000 });
    const use = async (key: string) => (await cache.acquire(key, key, async () => (opens++, fakeReader(closed, key)))).done();
    await use('a');
    await use('b');
    await use('a');
    assert.equal(opens, 2);
    await use('c'); // evicts b, the least recently used
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed, ['b']);
    assert.equal(cache.size, 2);
    cache.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed.sort(), ['a', 'b', 'c']);
  });

  test('acquire - a dropped or invalidated entry in use is closed only when its last user is done', async () => {
    const closed: string[] = [];
    const cache = new ShardReaderCache({ entriesMax: 4, idleMsMax: 60_000 });
    const first = await cache.acquire('k', 'block', async () => fakeReader(closed, 'k1'));
    const second = await cache.acquire('k', 'block', async () => fakeReader(closed, 'unused'));
    assert.equal(first.reader, second.reader);
    cache.invalidate('block');
    await first.done();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed, [], 'still in use by the second user');
    await second.done();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(closed, ['k1']);
    const third = await cache.acquire('k', 'block', async () => fakeReader(closed, 'k2'));
    assert.notEqual(third.reader, first.reader, 'an invalidated entry is opened afresh');
    await third.done();
    cache.close();
  });

  test('sweep - idle entries are closed after idleMsMax', async () => {
    const closed: string[] = [];
    let now = 0;
    const cache = new ShardReaderCache({ entriesMax: 4, idleMsMax: 100, nowMs: () => now });
    await (await cache.acquire('k', 'b', async () => fakeReader(closed, 'k'))).done();
    now = 1000;
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(closed, ['k']);
    assert.equal(cache.size, 0);
    cache.close();
  });
});
