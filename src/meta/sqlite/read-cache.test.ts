// The SQLite store's read cache: bounded, and never able to serve a value older than an acknowledged
// commit, including values read while that commit was in flight.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadCache } from './read-cache.js';
import { SqliteMetaStore } from './sqlite-store.js';

const b = (text: string) => Buffer.from(text);

async function withStore(fn: (store: SqliteMetaStore) => Promise<void>, cacheBytes?: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-read-cache-'));
  const store = await SqliteMetaStore.open(join(dir, 'meta.db'), cacheBytes === undefined ? {} : { cacheBytes });
  try {
    await fn(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('ReadCache - keeps its bytes under the limit, dropping the oldest entries first', () => {
  const cache = new ReadCache(64 * 1024);
  const value = Buffer.alloc(500);
  for (let i = 0; i < 1000; i++) cache.offer(`key-${i}`, value);
  assert.ok(cache.bytes <= 64 * 1024, `${cache.bytes} bytes cached`);
  assert.ok(cache.size > 50, `only ${cache.size} entries kept`);
  assert.equal(cache.get('key-0'), undefined, 'the oldest entry is gone');
  assert.equal(cache.get('key-999'), value, 'the newest entry is there');
});

test('ReadCache - refuses values over 1/64 of its size, and everything when its size is 0', () => {
  const cache = new ReadCache(64 * 1024);
  cache.offer('big', Buffer.alloc(2 * 1024));
  assert.equal(cache.get('big'), undefined);
  const off = new ReadCache(0);
  off.offer('small', Buffer.alloc(1));
  assert.equal(off.get('small'), undefined);
  assert.equal(off.bytes, 0);
});

test('ReadCache - a key with a commit in flight is neither served nor cached until the commit is answered', () => {
  const cache = new ReadCache(1024 * 1024);
  cache.offer('k', b('old'));
  cache.beginWrite(['k']);
  assert.equal(cache.get('k'), undefined, 'served while being written');
  cache.offer('k', b('old')); // a read that raced the commit
  cache.beginWrite(['k']); // a second commit to the same key
  cache.endWrite(['k']);
  cache.offer('k', b('old'));
  assert.equal(cache.get('k'), undefined, 'cached while the second commit is still in flight');
  cache.endWrite(['k']);
  assert.equal(cache.get('k'), undefined, 'the raced read outlived the answer');
  cache.offer('k', b('new'));
  assert.deepEqual(cache.get('k'), b('new'));
  assert.throws(() => cache.endWrite(['k']), /without beginWrite/);
});

test('SqliteMetaStore - a cached value is replaced by a commit and by a delete', async () => {
  await withStore(async (store) => {
    assert.equal(await store.commit({ checks: [], writes: [{ key: b('k'), value: b('v1') }] }), true);
    assert.deepEqual(await store.get(b('k')), b('v1'));
    assert.deepEqual(await store.get(b('k')), b('v1'));
    assert.equal(store.cacheStats.entries, 1, 'the value was cached');
    assert.equal(await store.commit({ checks: [{ key: b('k'), value: b('v1') }], writes: [{ key: b('k'), value: b('v2') }] }), true);
    assert.deepEqual(await store.get(b('k')), b('v2'));
    assert.equal(await store.commit({ checks: [], writes: [{ key: b('k'), value: null }] }), true);
    assert.equal(await store.get(b('k')), null);
  });
});

test('SqliteMetaStore - reads racing a commit never leave the old value behind once it is acknowledged', async () => {
  await withStore(async (store) => {
    for (let round = 0; round < 200; round++) {
      const key = b(`key-${round % 7}`);
      const before = await store.get(key);
      const next = b(`value-${round}`);
      const committing = store.commit({ checks: [{ key, value: before }], writes: [{ key, value: next }] });
      // Reads while the worker applies it: either value may come back, and may be offered to the cache.
      const seen = [await store.get(key), await store.get(key)];
      for (const value of seen) assert.ok(value === null || value.equals(next) || (before !== null && value.equals(before)));
      assert.equal(await committing, true);
      assert.deepEqual(await store.get(key), next, `round ${round}: a stale value survived the acknowledgement`);
    }
  });
});

test('SqliteMetaStore - cacheBytes 0 reads every value from the database', async () => {
  await withStore(async (store) => {
    await store.commit({ checks: [], writes: [{ key: b('k'), value: b('v') }] });
    assert.deepEqual(await store.get(b('k')), b('v'));
    assert.deepEqual(store.cacheStats, { entries: 0, bytes: 0, resets: 0 });
  }, 0);
});

test('SqliteMetaStore - a read with fill: false is served from the cache but never added to it', async () => {
  await withStore(async (store) => {
    await store.commit({ checks: [], writes: [{ key: b('hot'), value: b('h') }, { key: b('once'), value: b('o') }] });
    assert.deepEqual(await store.get(b('once'), { fill: false }), b('o'));
    assert.equal(store.cacheStats.entries, 0, 'a sweep read left nothing behind');
    assert.deepEqual(await store.get(b('hot')), b('h'));
    assert.deepEqual(await store.get(b('hot'), { fill: false }), b('h'));
    assert.equal(store.cacheStats.entries, 1, 'the hot value stays cached');
  });
});
