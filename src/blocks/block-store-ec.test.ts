import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, rename, rm, writeFile } from 'node:fs/promises';
import { beforeEach, describe, test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import { LocalDrive } from './drive.js';
import { openBlockStore, type BlockRef, type LocalBlockStore, type ShardDamage } from './index.js';
import { collect, flipByte, piecesOf, shardFile, tempDrives, suiteStore, type TempStore } from './test-helpers.js';

const MiB = 1024 * 1024;

describe('LocalBlockStore with six drives (RS 4+2)', () => {
  let drives: TempStore['drives'];
  let store: LocalBlockStore;
  let damage: ShardDamage[];
  suiteStore(6, (fixture) => ({ drives, store, damage } = fixture));
  const pathOf = (ref: BlockRef, shardIndex: number) => {
    const slot = store.slotPath(store.targetsOf(ref)[shardIndex] as string);
    return shardFile(slot, ref.id, shardIndex);
  };
  /** Takes drives away (renames their directories) for the duration of `work`. */
  async function withoutDrives<T>(slots: number[], work: () => Promise<T>): Promise<T> {
    for (const i of slots) await rename(drives.paths[i] as string, `${drives.paths[i]}.away`);
    try {
      return await work();
    } finally {
      for (const i of slots) await rename(`${drives.paths[i]}.away`, drives.paths[i] as string);
      await store.refreshDrives();
    }
  }
  const writeRandom = async (size: number, redundancy?: Parameters<LocalBlockStore['write']>[1]['redundancy']) => {
    const data = randomBytes(size);
    const ref = await store.write(piecesOf(data), { id: store.newId(), redundancy });
    return { data, ref };
  };

  beforeEach(() => {
    damage.length = 0;
  });

  test('defaultRedundancy - RS 4+2 from six drives', () => {
    assert.deepEqual(store.defaultRedundancy(), { kind: 'rs', data: 4, parity: 2 });
  });

  for (const size of [0, 1, 8, 4 * 262_144 - 1, 4 * 262_144 + 1, 5 * MiB + 3]) {
    test(`write and read - round trip of ${size} bytes over six distinct drives`, async () => {
      const { data, ref } = await writeRandom(size);
      assert.equal(ref.codec, 'rs-ronomon-v1');
      assert.equal(ref.stripeBytes, MiB);
      assert.equal(ref.targets, undefined, 'targets are computed, not recorded');
      assert.equal(new Set(store.targetsOf(ref)).size, 6);
      assert.deepEqual(await collect(store.read(ref, { start: 0, end: size })), data);
    });
  }

  test('read - exact bytes and damage reports with any two drives taken away', async () => {
    const { data, ref } = await writeRandom(3 * MiB + 12_345);
    const ranges = [[0, data.length], [1, 2], [262_143, 262_145], [MiB - 5, 2 * MiB + 5], [data.length - 9, data.length]] as const;
    for (let a = 0; a < 6; a++) {
      for (let b = a + 1; b < 6; b++) {
        await withoutDrives([a, b], async () => {
          for (const [start, end] of ranges) {
            assert.deepEqual(await collect(store.read(ref, { start, end })), data.subarray(start, end), `drives ${a},${b} [${start},${end})`);
          }
        });
      }
    }
    assert.ok(damage.some((d) => d.reason === 'missing' && d.ref.id === ref.id));
  });

  test('read - exact bytes when two shards have flipped bytes; both reported corrupt', async () => {
    const { data, ref } = await writeRandom(2 * MiB + 7);
    await flipByte(pathOf(ref, 0), 5000);
    await flipByte(pathOf(ref, 3), 300_000);
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    const corrupt = damage.filter((d) => d.reason === 'corrupt').map((d) => d.shardIndex).sort();
    assert.deepEqual(corrupt, [0, 3]);
  });

  test('read - ERR_QUORUM_UNREACHABLE with three of six shards gone', async () => {
    const { data, ref } = await writeRandom(100_000);
    await withoutDrives([0, 1, 2], async () => {
      await assert.rejects(collect(store.read(ref, { start: 0, end: data.length })), (err) => isStoreError(err, 'ERR_QUORUM_UNREACHABLE'));
    });
  });

  test('read - exact bytes when a drive directory is replaced by a file (unreadable)', async () => {
    const { data, ref } = await writeRandom(MiB + 1);
    const victim = drives.paths[2] as string;
    await rename(victim, `${victim}.away`);
    await writeFile(victim, 'not a directory');
    try {
      assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    } finally {
      await rm(victim);
      await rename(`${victim}.away`, victim);
    }
  });

  test('write - goes on with one drive gone, reports the unwritten shard, reads back', async () => {
    await withoutDrives([4], async () => {
      await store.refreshDrives();
      const { data, ref } = await writeRandom(MiB + 99);
      const failed = damage.filter((d) => d.reason === 'write-failed' && d.ref.id === ref.id);
      assert.equal(failed.length, 1);
      assert.equal(store.slotPath(failed[0]?.target as string), drives.paths[4]);
      assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    });
  });

  test('write - goes on when a drive vanishes after the last health check', async () => {
    await store.refreshDrives();
    await withoutDrives([1], async () => {
      const { data, ref } = await writeRandom(300_000);
      assert.equal(damage.filter((d) => d.reason === 'write-failed').length, 1);
      assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    });
  });

  test('write - ERR_QUORUM_UNREACHABLE below quorum (two of six gone for 4+2), nothing left behind', async () => {
    const id = store.newId();
    await withoutDrives([0, 5], async () => {
      await store.refreshDrives();
      await assert.rejects(store.write(piecesOf(randomBytes(2 * MiB)), { id }), (err) => isStoreError(err, 'ERR_QUORUM_UNREACHABLE'));
    });
    for (const path of drives.paths) {
      const dir = shardFile(path, id, 0).replace(/\/[^/]+$/, '');
      const left = await readdir(dir).catch(() => []);
      assert.deepEqual(left.filter((n) => n.startsWith(id)), [], path);
    }
  });

  test('write - honours a per-write redundancy (3 copies, RS 2+1)', async () => {
    for (const redundancy of [{ kind: 'replicate', copies: 3 }, { kind: 'rs', data: 2, parity: 1 }] as const) {
      const { data, ref } = await writeRandom(MiB * 2 + 5, redundancy);
      assert.deepEqual(ref.redundancy, redundancy);
      assert.equal(new Set(store.targetsOf(ref)).size, 3);
      await withoutDrives([store.slotIndex(store.targetsOf(ref)[0] as string)], async () => {
        assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
      });
    }
  });

  test('write - RangeError for redundancy wider than the drives', async () => {
    await assert.rejects(store.write(piecesOf(Buffer.from('x')), { id: store.newId(), redundancy: { kind: 'rs', data: 6, parity: 2 } }), RangeError);
  });

  test('heal - restores two wiped drives; a second pass finds nothing; the healed shards serve reads', async () => {
    const blocks = [await writeRandom(3 * MiB + 1), await writeRandom(10), await writeRandom(0)];
    for (const i of [1, 3]) await rm(drives.paths[i] as string, { recursive: true });
    await store.refreshDrives();
    assert.deepEqual((await store.driveStatus()).map((d) => d.state), ['ok', 'missing', 'ok', 'missing', 'ok', 'ok']);
    assert.equal((await store.reviveDrives()).length, 2);
    for (const { ref } of blocks) {
      const result = await store.heal(ref);
      assert.equal(result.rebuilt.length, 2, `block of ${ref.size} bytes`);
      assert.deepEqual(result.skipped, []);
    }
    for (const { ref } of blocks) assert.deepEqual((await store.heal(ref)).rebuilt, []);
    // Only the healed drives plus two others: the rebuilt shards must be right.
    const others = [0, 2, 4, 5];
    await withoutDrives(others.slice(0, 2), async () => {
      for (const { data, ref } of blocks) assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
    });
  });

  test('heal - rewrites a corrupt shard; scrub then finds every shard ok', async () => {
    const { data, ref } = await writeRandom(MiB + 3);
    await flipByte(pathOf(ref, 5), 100);
    const before = await store.scrub(ref);
    assert.deepEqual(before.map((c) => c.state), ['ok', 'ok', 'ok', 'ok', 'ok', 'corrupt']);
    assert.deepEqual((await store.heal(ref)).rebuilt.map((r) => r.shardIndex), [5]);
    assert.ok((await store.scrub(ref)).every((c) => c.state === 'ok'));
    assert.deepEqual(await collect(store.read(ref, { start: 0, end: data.length })), data);
  });

  test('heal - skips a shard whose drive is missing and reports why', async () => {
    const { ref } = await writeRandom(1000);
    await withoutDrives([store.slotIndex(store.targetsOf(ref)[2] as string)], async () => {
      await store.refreshDrives();
      const result = await store.heal(ref);
      assert.deepEqual(result.rebuilt, []);
      assert.deepEqual(result.skipped.map((s) => s.shardIndex), [2]);
    });
  });

  test('driveStatus - counts shard files and bytes, and corrupt blocks met', async () => {
    const status = await store.driveStatus();
    assert.equal(status.length, 6);
    assert.ok(status.every((d) => d.state === 'ok' && d.shardFiles > 0 && d.bytes > 0));
    assert.ok(status.some((d) => d.corruptFound > 0));
    assert.deepEqual(status.map((d) => d.path), drives.paths);
  });

  test('driveSummaries - states, capacity and corrupt blocks met, without listing a drive', async () => {
    const listings = { count: 0 };
    const original = { prefixes: LocalDrive.prototype.listPrefixes, shards: LocalDrive.prototype.listShards };
    LocalDrive.prototype.listPrefixes = function (...args) {
      listings.count++;
      return original.prefixes.apply(this, args);
    };
    LocalDrive.prototype.listShards = function (...args) {
      listings.count++;
      return original.shards.apply(this, args);
    };
    try {
      const summaries = await store.driveSummaries();
      assert.equal(listings.count, 0, 'metrics must never walk the drives');
      assert.deepEqual(summaries.map((d) => d.path), drives.paths);
      assert.ok(summaries.every((d) => d.state === 'ok' && (d.totalBytes ?? 0) > 0 && (d.freeBytes ?? -1) >= 0));
      assert.ok(summaries.some((d) => d.corruptFound > 0));
      await store.driveStatus();
      assert.ok(listings.count > 0, 'admin status does count shards (the spy works)');
    } finally {
      Object.assign(LocalDrive.prototype, { listPrefixes: original.prefixes, listShards: original.shards });
    }
  });
});

describe('openBlockStore over an existing drive set', () => {
  test('openBlockStore - keeps drive ids across reopen in another order and re-formats a wiped drive in place', async () => {
    const drives = await tempDrives(4);
    try {
      const first = await openBlockStore({ drives: drives.paths });
      const data = randomBytes(700_000);
      const ref = await first.write(piecesOf(data), { id: first.newId() });
      const ids = (await first.driveStatus()).map((d) => d.id);
      await first.close();
      await rm(drives.paths[1] as string, { recursive: true });
      const reordered = [...drives.paths].reverse();
      const second = await openBlockStore({ drives: reordered });
      const status = await second.driveStatus();
      assert.deepEqual(status.map((d) => d.id).sort(), [...ids].sort());
      assert.deepEqual(await collect(second.read(ref, { start: 0, end: data.length })), data);
      const healed = await second.heal(ref);
      assert.equal(healed.rebuilt.length, 1);
      await second.close();
    } finally {
      await drives.cleanup();
    }
  });
});
