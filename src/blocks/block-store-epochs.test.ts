// Reads and moves across layout epochs (issue 11): a block written under epoch 1 of four drives, read and
// moved under epoch 2 of six, over real temp drives and layouts computed as the server computes them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { computeLayout, emptyLayout, type Layout } from '../cluster/index.js';
import { LocalBlockStore } from './block-store.js';
import { openDriveSet, type LocalDriveSet } from './drive-set.js';
import { nextLocalLayout } from './local-layout.js';
import { collect, copyShard, hasShard, packedShardCount, piecesOf, removeShard, tempDrives } from './test-helpers.js';
import type { BlockRef, ShardDamage } from './types.js';

const MiB = 1024 * 1024;

describe('LocalBlockStore across layout epochs (4 drives, then 6)', () => {
  let drives: Awaited<ReturnType<typeof tempDrives>>;
  let set: LocalDriveSet;
  let epoch1: Layout;
  let epoch2: Layout;
  let before4: LocalBlockStore;
  let after6: LocalBlockStore;
  const damage: ShardDamage[] = [];
  const pathOf = (target: string) => set.slots.find((s) => s.id === target)!.where;

  before(async () => {
    drives = await tempDrives(6);
    set = await openDriveSet(drives.paths);
    const ids = set.slots.map((s) => ({ id: s.id, capacity: 1 }));
    epoch1 = nextLocalLayout(undefined, ids.slice(0, 4), { partitionCount: 256 })!;
    epoch2 = nextLocalLayout(epoch1, ids)!;
    before4 = new LocalBlockStore({ targets: set, layouts: [epoch1] });
    after6 = new LocalBlockStore({ targets: set, layouts: [epoch1, epoch2], onDamage: (d) => damage.push(d) });
  });
  after(async () => {
    await before4.close();
    await after6.close();
    await drives.cleanup();
  });
  beforeEach(() => {
    damage.length = 0;
    after6.setSettledEpoch(0);
  });

  /** A block written under epoch 1 (RS 2+2) that epoch 2 moves at least `moved` shards of. */
  async function oldBlock(size: number, moved = 1): Promise<{ ref: BlockRef; data: Buffer }> {
    for (;;) {
      const data = randomBytes(size);
      const ref = await before4.write(piecesOf(data), { id: before4.newId() });
      if (after6.placesOfRef(ref).filter((p) => p.length > 1).length >= moved) return { ref, data };
      await before4.delete(ref);
    }
  }

  test('placesOfRef - newest epoch first, then the block\'s own, repeats skipped; only the newest once settled', async () => {
    const { ref } = await oldBlock(1000);
    assert.equal(ref.epoch, 1);
    const old = before4.targetsOf(ref);
    const now = after6.targetsOf(ref);
    const places = after6.placesOfRef(ref);
    places.forEach((p, i) => assert.deepEqual(p, now[i] === old[i] ? [now[i]] : [now[i], old[i]]));
    after6.setSettledEpoch(2);
    assert.deepEqual(after6.placesOfRef(ref), now.map((t) => [t]));
    const fresh = await after6.write(piecesOf(randomBytes(10)), { id: after6.newId() });
    after6.setSettledEpoch(0);
    assert.equal(fresh.epoch, 2);
    assert.ok(after6.placesOfRef(fresh).every((p) => p.length === 1), 'a block of the newest epoch has one place per shard');
  });

  test('read - a shard still at its older epoch\'s target is present, not damage, beside one already moved', async () => {
    const { ref, data } = await oldBlock(3 * MiB + 17, 2);
    const old = before4.targetsOf(ref);
    const now = after6.targetsOf(ref);
    const i = now.findIndex((t, j) => t !== old[j]);
    await copyShard(pathOf(old[i]!), pathOf(now[i]!), ref.id, i);
    await removeShard(pathOf(old[i]!), ref.id, i);
    assert.deepEqual(await collect(after6.read(ref, { start: 0, end: data.length })), data);
    assert.deepEqual(await collect(after6.read(ref, { start: MiB - 3, end: 2 * MiB })), data.subarray(MiB - 3, 2 * MiB));
    assert.ok((await after6.scrub(ref)).every((c) => c.state === 'ok'));
    assert.deepEqual(damage, []);
  });

  test('moveBlock - copies the misplaced shards, deletes the old copies, and is idempotent', async () => {
    const { ref, data } = await oldBlock(2 * MiB + 5, 2);
    const old = before4.targetsOf(ref);
    const now = after6.targetsOf(ref);
    const moving = now.flatMap((t, i) => (t !== old[i] ? [i] : []));
    const result = await after6.moveBlock(ref);
    assert.equal(result.shardsCopied, moving.length);
    assert.equal(result.shardsMoved, moving.length);
    assert.equal(result.shardsFailed, 0);
    for (const i of moving) {
      assert.ok(await hasShard(pathOf(now[i]!), ref.id, i), `shard ${i} at its new target`);
      assert.ok(!(await hasShard(pathOf(old[i]!), ref.id, i)), `shard ${i} gone from its old target`);
    }
    assert.deepEqual((await after6.moveBlock(ref)).shardsMoved, 0);
    after6.setSettledEpoch(2);
    assert.deepEqual(await collect(after6.read(ref, { start: 0, end: data.length })), data);
    assert.deepEqual(damage, []);
  });

  test('moveBlock - rebuilds from the other shards when the holder lost its shard', async () => {
    const { ref, data } = await oldBlock(MiB + 99);
    const old = before4.targetsOf(ref);
    const now = after6.targetsOf(ref);
    const lost = now.findIndex((t, i) => t !== old[i]);
    await removeShard(pathOf(old[lost]!), ref.id, lost);
    const result = await after6.moveBlock(ref);
    assert.ok(result.shardsRebuilt >= 1, 'the lost shard was rebuilt');
    assert.equal(result.shardsFailed, 0);
    after6.setSettledEpoch(2);
    assert.ok((await after6.scrub(ref)).every((c) => c.state === 'ok'), 'every shard whole at its newest target');
    assert.deepEqual(await collect(after6.read(ref, { start: 0, end: data.length })), data);
  });

  test('moveBlock - a shard neither copied nor rebuildable fails and stays where it was', async () => {
    const { ref, data } = await oldBlock(1000);
    const old = before4.targetsOf(ref);
    const now = after6.targetsOf(ref);
    const moving = now.findIndex((t, i) => t !== old[i]);
    // 2+2 with the moving shard's holder and two more shards gone: nothing to copy, one shard cannot
    // rebuild it, and the one left must not be deleted.
    const keep = (moving + 1) % 4;
    for (let i = 0; i < 4; i++) if (i !== keep) await removeShard(pathOf(old[i]!), ref.id, i);
    const result = await after6.moveBlock(ref);
    assert.equal(result.shardsMoved, now[keep] === old[keep] ? 0 : 1, 'only the shard left, when its target changed too');
    assert.ok(result.shardsFailed >= 1);
    const kept = (await hasShard(pathOf(old[keep]!), ref.id, keep)) || (await hasShard(pathOf(now[keep]!), ref.id, keep));
    assert.ok(kept, 'the shard left is kept (moved, if its target changed too)');
    assert.ok(!(await hasShard(pathOf(now[moving]!), ref.id, moving)), 'nothing half made at the new target');
    assert.ok(data.length > 0);
  });

  test('delete - removes a shard at every place it may be', async () => {
    const { ref } = await oldBlock(5000);
    const old = before4.targetsOf(ref);
    const now = after6.targetsOf(ref);
    const i = now.findIndex((t, j) => t !== old[j]);
    // A copy made but its old one not yet deleted (a crash between the two): both must go.
    await copyShard(pathOf(old[i]!), pathOf(now[i]!), ref.id, i);
    await after6.delete(ref);
    assert.ok(!(await hasShard(pathOf(now[i]!), ref.id, i)));
    assert.ok(!(await hasShard(pathOf(old[i]!), ref.id, i)));
  });
});

describe('LocalBlockStore - draining a node (3 nodes of 2 drives, then the third drained)', () => {
  test('moveBlock - once every block moved and the epoch is settled, the drained node holds nothing and every block reads exactly', async () => {
    const drives = await tempDrives(6);
    const set = await openDriveSet(drives.paths);
    try {
      const ids = set.slots.map((s) => s.id);
      const nodes = [0, 1, 2].map((n) => ({
        kind: 'addNode' as const,
        node: { id: `n${n + 1}`, address: '', zone: `z${n + 1}` },
        drives: ids.slice(2 * n, 2 * n + 2).map((id) => ({ id, capacity: 1 })),
      }));
      const epoch1 = computeLayout(emptyLayout({ partitionCount: 256 }), nodes);
      const epoch2 = computeLayout(epoch1, [{ kind: 'drainNode', nodeId: 'n3' }]);
      const writer = new LocalBlockStore({ targets: set, layouts: [epoch1] });
      const blocks: { ref: BlockRef; data: Buffer }[] = [];
      for (let i = 0; i < 12; i++) {
        const data = randomBytes(100_000 + i);
        blocks.push({ ref: await writer.write(piecesOf(data), { id: writer.newId(), redundancy: { kind: 'rs', data: 2, parity: 2 } }), data });
      }
      await writer.close();
      const store = new LocalBlockStore({ targets: set, layouts: [epoch1, epoch2] });
      const drained = drives.paths.slice(4);
      assert.ok((await Promise.all(drained.map(countFiles))).some((n) => n > 0), 'the node held shards before');
      for (const { ref } of blocks) assert.equal((await store.moveBlock(ref)).shardsFailed, 0);
      store.setSettledEpoch(2);
      assert.deepEqual(await Promise.all(drained.map(countFiles)), [0, 0], 'the drained node holds nothing');
      for (const { ref, data } of blocks) assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
      await store.close();
    } finally {
      await drives.cleanup();
    }
  });
});

describe('LocalBlockStore - draining one node of six at RS 4+2 (the next epoch lists 5 targets per partition)', () => {
  test('moveBlock - reports the shards on the drained node as blocked, not moved or failed, and leaves them there', async () => {
    const drives = await tempDrives(6);
    const set = await openDriveSet(drives.paths);
    try {
      const ids = set.slots.map((s) => s.id);
      const nodes = ids.map((id, n) => ({ kind: 'addNode' as const, node: { id: `n${n + 1}`, address: '', zone: `z${(n % 3) + 1}` }, drives: [{ id, capacity: 1 }] }));
      const epoch1 = computeLayout(emptyLayout({ partitionCount: 256 }), nodes);
      const epoch2 = computeLayout(epoch1, [{ kind: 'drainNode', nodeId: 'n6' }]);
      assert.equal(epoch2.width, 5);
      const writer = new LocalBlockStore({ targets: set, layouts: [epoch1] });
      assert.deepEqual(writer.defaultRedundancy(), { kind: 'rs', data: 4, parity: 2 });
      const ref = await writer.write(piecesOf(randomBytes(100_000)), { id: writer.newId() });
      await writer.close();
      const store = new LocalBlockStore({ targets: set, layouts: [epoch1, epoch2] });
      const moved = await store.moveBlock(ref);
      // Every 4+2 block has one shard on each of the six nodes, so one on the drained node.
      assert.deepEqual({ ...moved }, { shardsMoved: 0, shardsCopied: 0, shardsRebuilt: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked: 1 });
      assert.equal(await countFiles(drives.paths[5]!), 1, 'the drained node keeps its shard');
      await store.close();
    } finally {
      await drives.cleanup();
    }
  });
});

/** Shards (files, not tmp, and pack records) on a drive directory. */
async function countFiles(drive: string): Promise<number> {
  const entries = await readdir(join(drive, 'shards'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !e.name.includes('.tmp')).length + packedShardCount(drive);
}
