import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import type { LocalBlockStore, ShardDamage } from './index.js';
import { shardBlockBytes } from './limits.js';
import { collect, flipShardByte, locateShard, piecesOf, shardFile, suiteStore, type TempStore } from './test-helpers.js';

describe('LocalBlockStore with one drive', () => {
  let drives: TempStore['drives'];
  let store: LocalBlockStore;
  let damage: ShardDamage[];

  suiteStore(1, (fixture) => ({ drives, store, damage } = fixture));

  test('defaultRedundancy - one copy when there is one drive', () => {
    assert.deepEqual(store.defaultRedundancy(), { kind: 'replicate', copies: 1 });
  });

  test('newId - 32 lowercase hex characters, different each time', () => {
    const a = store.newId();
    assert.match(a, /^[0-9a-f]{32}$/);
    assert.notEqual(a, store.newId());
  });

  for (const size of [0, 1, shardBlockBytes - 1, shardBlockBytes, shardBlockBytes + 1, 3 * 1024 * 1024 + 5]) {
    test(`write and read - round trip of ${size} bytes`, async () => {
      const data = randomBytes(size);
      const ref = await store.write(piecesOf(data), { id: store.newId() });
      assert.equal(ref.size, size);
      assert.equal(ref.codec, 'rep-v1');
      assert.equal(store.targetsOf(ref).length, 1);
      assert.deepEqual(await collect(store.read(ref, { start: 0, end: size })), data);
    });
  }

  test('write - accepts a Readable source', async () => {
    const data = randomBytes(200_000);
    const ref = await store.write(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { id: store.newId() });
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
  });

  test('read - exact bytes for ranges at block and stripe boundaries', async () => {
    const size = 2 * 1024 * 1024 + 3 * shardBlockBytes + 11;
    const data = randomBytes(size);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    const edges = [0, 1, shardBlockBytes - 1, shardBlockBytes, shardBlockBytes + 1, ref.stripeBytes - 1, ref.stripeBytes, ref.stripeBytes + 1, size - 1, size];
    for (const start of edges) {
      for (const end of edges) {
        if (end < start) continue;
        const got = await collect(store.read(ref, { start, end }));
        assert.deepEqual(got, data.subarray(start, end), `range [${start}, ${end})`);
      }
    }
  });

  test('read - ERR_SHARD_CORRUPT when a byte of the only shard is flipped', async () => {
    const data = randomBytes(300_000);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    await flipShardByte(drives.paths[0] as string, ref.id, 0, 100_000);
    damage.length = 0;
    await assert.rejects(collect(store.read(ref, { start: 0, end: data.length })), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    assert.equal(damage.length, 1);
    assert.equal(damage[0]?.reason, 'corrupt');
    // A range that avoids the damaged checksum block still reads.
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: 1000 })), data.subarray(0, 1000));
  });

  test('read - ERR_SHARD_MISSING when the only shard file is gone', async () => {
    const ref = await store.write(piecesOf(randomBytes(10)), { id: store.newId() });
    await store.delete(ref);
    await assert.rejects(collect(store.read(ref, { start: 0, end: 10 })), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
  });

  test('delete - removes the shard files and is idempotent', async () => {
    const ref = await store.write(piecesOf(randomBytes(1000)), { id: store.newId() });
    await store.delete(ref);
    await store.delete(ref);
    const dir = join(drives.paths[0] as string, 'shards', ref.id.slice(0, 2), ref.id.slice(2, 4));
    assert.deepEqual((await readdir(dir).catch(() => [])).filter((n) => n.startsWith(ref.id)), []);
    assert.equal(await locateShard(drives.paths[0] as string, ref.id, 0), undefined, 'no file and no pack record');
  });

  test('write - rejects ids that are not 32 lowercase hex characters', async () => {
    for (const id of ['../x', '../../etc/passwd', 'ABCDEF0123456789ABCDEF0123456789', 'a'.repeat(31), `${'a'.repeat(31)}/`]) {
      await assert.rejects(store.write(piecesOf(Buffer.from('x')), { id }), RangeError, id);
    }
  });

  test('write - ERR_ABORTED and no shard file left when aborted mid-stream', async () => {
    const controller = new AbortController();
    const id = store.newId();
    async function* slowSource(): AsyncGenerator<Buffer> {
      yield randomBytes(3 * 1024 * 1024);
      controller.abort();
      await new Promise(() => undefined); // a client that stops sending
    }
    await assert.rejects(store.write(slowSource(), { id, signal: controller.signal }), (err) => isStoreError(err, 'ERR_ABORTED'));
    const dir = join(drives.paths[0] as string, 'shards', id.slice(0, 2), id.slice(2, 4));
    const left = await readdir(dir).catch(() => []);
    assert.deepEqual(left.filter((n) => n.startsWith(id)), []);
  });

  test('read - the stream errors with ERR_ABORTED when the signal aborts', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    const controller = new AbortController();
    const stream = store.read(ref, { start: 0, end: data.length, signal: controller.signal });
    let received = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) {
          received += (chunk as Buffer).length;
          controller.abort();
        }
      })(),
      (err) => isStoreError(err, 'ERR_ABORTED'),
    );
    assert.ok(received < data.length);
  });

  test('read - RangeError for a range outside the block', async () => {
    const ref = await store.write(piecesOf(randomBytes(10)), { id: store.newId() });
    assert.throws(() => store.read(ref, { start: 0, end: 11 }), RangeError);
    assert.throws(() => store.read(ref, { start: 5, end: 4 }), RangeError);
  });
});
