// The cache of checked stripes behind LocalBlockStore's object reads: what it keeps, what it serves from
// memory, and what it must leave to the drives (scrub, a deleted block's memory).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { LocalBlockStore } from './block-store.js';
import { openDriveSet, type LocalDriveSet } from './drive-set.js';
import { nextLocalLayout } from './local-layout.js';
import { StripeCache } from './stripe-cache.js';
import { flipShardByte, hasShard, piecesOf, tempDrives } from './test-helpers.js';
import type { BlockRef } from './types.js';

const MiB = 1024 * 1024;
/** An eighth of it, 2 MiB, is the largest block kept. */
const cacheBytes = 16 * MiB;

let drives: Awaited<ReturnType<typeof tempDrives>>;
let set: LocalDriveSet;
let store: LocalBlockStore;

before(async () => {
  drives = await tempDrives(6);
  set = await openDriveSet(drives.paths);
  const layout = nextLocalLayout(undefined, set.slots.map((s) => ({ id: s.id, capacity: 1 })), { partitionCount: 256 })!;
  store = new LocalBlockStore({ targets: set, layouts: [layout], readCacheBytes: cacheBytes });
});
after(async () => {
  await store.close();
  await set.closeTargets();
  await drives.cleanup();
});

async function read(ref: BlockRef, start = 0, end = ref.size): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const lease of store.readLeased(ref, { start, end })) {
    out.push(Buffer.concat(lease.pieces));
    lease.release();
  }
  return Buffer.concat(out);
}

async function write(data: Buffer): Promise<BlockRef> {
  return store.write(piecesOf(data), { id: store.newId(), redundancy: { kind: 'rs', data: 4, parity: 2 } });
}

function stats() {
  return store.stripeCache.stats();
}

test('StripeCache - a block read a second time is kept, and later reads and ranges of it come from memory', async () => {
  const data = randomBytes(2 * MiB - 12345); // two stripes, the second short
  const ref = await write(data);
  const before = stats();
  assert.ok((await read(ref)).equals(data));
  assert.equal(stats().admitted, before.admitted, 'one read keeps nothing');
  assert.ok((await read(ref)).equals(data));
  assert.equal(stats().admitted, before.admitted + 2, 'the second read keeps both stripes');
  assert.equal(stats().bytes, before.bytes + data.length);

  const hits = stats().hits;
  for (const [start, end] of [
    [0, data.length],
    [MiB - 1, MiB + 1],
    [17, 4099],
    [MiB, data.length],
    [data.length - 1, data.length],
  ] as const) {
    assert.ok((await read(ref, start, end)).equals(data.subarray(start, end)), `bytes [${start}, ${end})`);
  }
  assert.equal(stats().hits, hits + 2 + 2 + 1 + 1 + 1, 'every stripe of those reads was a hit');

  // What memory answers was checked when it was kept: a byte rotting on a drive since does not reach the
  // client, and scrub, which reads the drives, still finds it.
  let flipped = 0;
  for (const drive of drives.paths) {
    if (!(await hasShard(drive, ref.id, 0))) continue;
    await flipShardByte(drive, ref.id, 0, 100);
    flipped++;
  }
  assert.equal(flipped, 1);
  assert.ok((await read(ref)).equals(data));
  const checks = await store.scrub(ref);
  assert.equal(checks.find((c) => c.shardIndex === 0)?.state, 'corrupt');
});

test('StripeCache - a part-stripe read keeps nothing, a block over an eighth of the cache is never kept', async () => {
  const small = await write(randomBytes(MiB));
  const before = stats();
  for (let i = 0; i < 3; i++) await read(small, 10, 1000);
  assert.equal(stats().admitted, before.admitted);

  const large = randomBytes(3 * MiB); // over cacheBytes / 8
  const ref = await write(large);
  for (let i = 0; i < 3; i++) assert.ok((await read(ref)).equals(large));
  assert.equal(stats().admitted, before.admitted);
});

test('StripeCache - a cycle of reads over more than twice its bytes keeps nothing, a hot set within it is served from memory', async () => {
  const blocks = await Promise.all(Array.from({ length: 40 }, () => write(randomBytes(MiB))));
  const before = stats();
  for (let round = 0; round < 3; round++) for (const ref of blocks) await read(ref);
  assert.equal(stats().admitted, before.admitted, '40 MiB cycled through a 16 MiB cache: nothing copied in only to be evicted');

  const hot = blocks.slice(0, 8);
  for (let round = 0; round < 3; round++) for (const ref of hot) await read(ref);
  const hits = stats().hits;
  for (const ref of hot) await read(ref);
  assert.equal(stats().hits, hits + hot.length);
  assert.ok(stats().bytes <= cacheBytes);
});

test('StripeCache - delete gives a block\'s kept stripes back at once', async () => {
  const ref = await write(randomBytes(MiB + 1));
  await read(ref);
  await read(ref);
  const kept = stats();
  await store.delete(ref);
  assert.equal(stats().entries, kept.entries - 2);
  assert.equal(stats().bytes, kept.bytes - (MiB + 1));
});

test('StripeCache - at 0 bytes nothing is kept', () => {
  const cache = new StripeCache(0);
  assert.equal(cache.wants('a'.repeat(32), 0, 1024, 1024), false);
  cache.put('a'.repeat(32), 0, Buffer.alloc(1024));
  assert.equal(cache.get('a'.repeat(32), 0), undefined);
  assert.deepEqual(cache.stats(), { entries: 0, bytes: 0, hits: 0, misses: 0, admitted: 0 });
});

test('StripeCache - evicts the least recently used first and stays within its bytes', () => {
  const cache = new StripeCache(8 * 1024);
  const id = (n: number) => n.toString(16).padStart(32, '0');
  for (let n = 0; n < 4; n++) cache.put(id(n), 0, Buffer.alloc(2048, n));
  assert.ok(cache.get(id(0), 0)); // now the most recent
  cache.put(id(4), 0, Buffer.alloc(2048, 4));
  assert.equal(cache.get(id(1), 0), undefined, 'the least recently used went');
  for (const n of [0, 2, 3, 4]) assert.equal(cache.get(id(n), 0)?.[0], n);
  assert.equal(cache.stats().bytes, 8 * 1024);
});
