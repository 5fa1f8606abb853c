import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import type { LocalBlockStore, ShardDamage } from './index.js';
import { collect, piecesOf, tempStore } from './test-helpers.js';

/** Opens a store over `count` fresh drives, runs `work`, cleans up. */
async function withStore(count: number, work: (ctx: { paths: string[]; store: LocalBlockStore; damage: ShardDamage[] }) => Promise<void>) {
  const { drives, store, damage, close } = await tempStore(count);
  try {
    await work({ paths: drives.paths, store, damage });
  } finally {
    await close();
  }
}

test('LocalBlockStore - two drives: two copies, writes and reads go on with one drive gone', async () => {
  await withStore(2, async ({ paths, store, damage }) => {
    assert.deepEqual(store.defaultRedundancy(), { kind: 'replicate', copies: 2 });
    const data = randomBytes(1_500_000);
    const before = await store.write(piecesOf(data), { id: store.newId() });
    await rename(paths[0] as string, `${paths[0]}.away`);
    await store.refreshDrives();
    assert.deepEqual(await collect(store.read(before, { start: 0, end: data.length })), data);
    const during = await store.write(piecesOf(data), { id: store.newId() });
    assert.ok(damage.some((d) => d.reason === 'write-failed' && d.ref.id === during.id));
    assert.deepEqual(await collect(store.read(during, { start: 10, end: 1_000_010 })), data.subarray(10, 1_000_010));
  });
});

test('LocalBlockStore - three drives: RS 2+1, a write at quorum 2 with one drive gone, ERR_QUORUM_UNREACHABLE with two', async () => {
  await withStore(3, async ({ paths, store }) => {
    assert.deepEqual(store.defaultRedundancy(), { kind: 'rs', data: 2, parity: 1 });
    const data = randomBytes(2_100_000);
    await rename(paths[1] as string, `${paths[1]}.away`);
    await store.refreshDrives();
    const ref = await store.write(piecesOf(data), { id: store.newId() });
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    await rename(paths[2] as string, `${paths[2]}.away`);
    await store.refreshDrives();
    await assert.rejects(store.write(piecesOf(data), { id: store.newId() }), (err) => isStoreError(err, 'ERR_QUORUM_UNREACHABLE'));
    await rename(`${paths[1]}.away`, paths[1] as string);
    await rename(`${paths[2]}.away`, paths[2] as string);
    await store.refreshDrives();
    assert.deepEqual((await store.heal(ref)).rebuilt.map((r) => store.slotPath(r.target)), [paths[1]]);
  });
});
