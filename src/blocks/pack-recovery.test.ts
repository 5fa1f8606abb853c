// Pack index rows that a power cut took away (issue 17): most groups do not fdatasync the index's WAL, so
// their rows must be found again in the packs (pack-recovery.ts). Which groups still sync, what the walk
// finds and where it stops, and that it never replaces a row. The power cut itself, with a process killed
// and the WAL cut short, is in pack-crash.test.ts.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { LocalDrive } from './drive.js';
import { newBlockId } from './ids.js';
import { packStaleMs, shardBlockBytes } from './limits.js';
import { PackStore } from './pack-store.js';
import { ShardWriter } from './shard-file.js';
import { flipByte, tempDrives } from './test-helpers.js';

async function putWhole(drive: LocalDrive, blockId: string, data: Buffer): Promise<void> {
  const writer = await drive.createShard({ blockId, shardIndex: 0 }, { blockBytes: shardBlockBytes });
  await writer.append(data, { last: true });
  await writer.commit();
}

async function readsBack(drive: LocalDrive, blockId: string, data: Buffer): Promise<boolean> {
  const reader = await drive.openShard({ blockId, shardIndex: 0 }, { shardBytes: data.length });
  try {
    return Buffer.concat(await reader.readPieces(0, data.length)).equals(data);
  } finally {
    await reader.close();
  }
}

/** What a power cut may do to the index: the rows of `lost` gone, and the pack's indexed_to back where it was before them. */
function loseRows(root: string, lost: string[], indexedTo: number): void {
  const db = new Database(join(root, 'packs', 'index.db'), { fileMustExist: true });
  try {
    const remove = db.prepare<[string], { pack: number; bytes: number }>('DELETE FROM shards WHERE block_id = ? RETURNING pack, bytes');
    const unlive = db.prepare('UPDATE packs SET live_bytes = live_bytes - ? WHERE id = ?');
    db.transaction(() => {
      for (const id of lost) for (const row of remove.all(id)) unlive.run(row.bytes, row.pack);
      db.prepare('UPDATE packs SET indexed_to = ?').run(indexedTo);
    })();
  } finally {
    db.close();
  }
}

describe('pack recovery', () => {
  let dirs: Awaited<ReturnType<typeof tempDrives>>;
  const opened: LocalDrive[] = [];
  let next = 0;

  before(async () => {
    dirs = await tempDrives(6);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((d) => d.close()));
  });
  after(() => dirs.cleanup());

  async function openDrive(root = dirs.paths[next++]!): Promise<LocalDrive> {
    const drive = await LocalDrive.open(root, { create: true });
    opened.push(drive);
    return drive;
  }

  test('recovery - rows lost after the last synced transaction come back at the next open, up to a record that is not whole', async () => {
    const writer = await openDrive();
    const shards = Array.from({ length: 6 }, () => ({ id: newBlockId(), data: randomBytes(5_000 + Math.floor(Math.random() * 200_000)) }));
    for (const shard of shards) await putWhole(writer, shard.id, shard.data);
    const rows = shards.map((s) => writer.packs.lookup({ blockId: s.id, shardIndex: 0 })!);
    assert.ok(rows.every((r, i) => i === 0 || r.offset > rows[i - 1]!.offset), 'records in order in one pack');
    // The power cut: every row after the first lost. The fourth record was being written: part of it is not there.
    loseRows(writer.root, shards.slice(1).map((s) => s.id), Math.ceil((rows[0]!.offset + rows[0]!.bytes) / 4096) * 4096);
    await flipByte(join(writer.root, 'packs', `${String(rows[3]!.pack).padStart(10, '0')}.pack`), rows[3]!.offset + rows[3]!.bytes - 10);

    // The next process to open the drive (the writer's pack still open: any process may look through any).
    const reader = await openDrive(writer.root);
    for (const shard of shards.slice(0, 3)) assert.ok(await readsBack(reader, shard.id, shard.data), 'a whole record before the torn one is back');
    for (const shard of shards.slice(3)) assert.equal(reader.packs.lookup({ blockId: shard.id, shardIndex: 0 }), undefined, 'the walk stops at the torn record');
    const info = (reader.packs as unknown as { index: { info(p: number): { indexedTo: number; liveBytes: number } } }).index.info(rows[0]!.pack)!;
    assert.equal(info.indexedTo, rows[3]!.offset, 'indexed_to moved to where the walk stopped');
    assert.equal(info.liveBytes, rows[0]!.bytes + rows[1]!.bytes + rows[2]!.bytes, 'live bytes count the rows there now');
    assert.equal(await reader.packs.recoverOpenPacks(), 0, 'a second look adds nothing');
  });

  test('recovery - a found record never replaces the row its shard has elsewhere', async () => {
    const drive = await openDrive();
    const id = newBlockId();
    const data = randomBytes(10_000);
    await putWhole(drive, id, data);
    const first = drive.packs.lookup({ blockId: id, shardIndex: 0 })!;
    await putWhole(drive, id, data); // the same shard written again (as heal would): a newer record, the row moves
    const second = drive.packs.lookup({ blockId: id, shardIndex: 0 })!;
    assert.notEqual(second.offset, first.offset);
    const db = new Database(join(drive.root, 'packs', 'index.db'), { fileMustExist: true });
    db.prepare('UPDATE packs SET indexed_to = 0').run();
    db.close();
    assert.equal(await drive.packs.recoverOpenPacks(), 0);
    assert.equal(drive.packs.lookup({ blockId: id, shardIndex: 0 })!.offset, second.offset);
  });

  test('recovery - a dead owner’s open pack is looked through before another process seals it as stale', async () => {
    const owner = await openDrive();
    const shards = Array.from({ length: 3 }, () => ({ id: newBlockId(), data: randomBytes(30_000) }));
    for (const shard of shards) await putWhole(owner, shard.id, shard.data);
    const other = await openDrive(owner.root);
    loseRows(owner.root, shards.map((s) => s.id), 0);
    const later = Date.now() + packStaleMs + 60_000;
    (other.packs as unknown as { nowMs: () => number }).nowMs = () => later;
    await other.packs.maintenanceStep();
    const index = (other.packs as unknown as { index: { openPacks(): unknown[] } }).index;
    assert.ok(!index.openPacks().some((p) => (p as { owner: string }).owner === owner.packs.owner), 'the stale pack was sealed');
    for (const shard of shards) assert.ok(await readsBack(other, shard.id, shard.data));
  });

  test('recovery - a group waits for the records below its own still being written, and syncs the WAL only when one failed', async (t) => {
    const real = PackStore.directWrites;
    if (!real && process.env.CI !== 'true') return t.skip('the file sync addon is not loaded');
    // Writes numbered in `held` return only when their gate opens (or fail, when it says so).
    const held = new Map<number, { open: Promise<boolean>; release: (ok: boolean) => void }>();
    const hold = (call: number) => {
      let release: (ok: boolean) => void = () => undefined;
      const open = new Promise<boolean>((resolve) => (release = resolve));
      held.set(call, { open, release });
      return release;
    };
    let calls = 0;
    PackStore.directWrites = {
      syncDropping: (...args) => (real ?? ShardWriter.fileSync)!.syncDropping(...args),
      setDirect: (fd, on) => real!.setDirect(fd, on),
      writeDirect: async (...args) => {
        const gate = held.get(calls++);
        if (gate && !(await gate.open)) throw Object.assign(new Error('EIO: i/o error, pwrite'), { code: 'EIO', syscall: 'pwrite' });
        return real!.writeDirect(...args);
      },
    };
    const shard = () => ({ id: newBlockId(), data: randomBytes(40_000) });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((r) => setTimeout(r, 1));
    };
    try {
      const drive = await openDrive();
      // The first record's write is slow: the second, reserved after it and written first, waits for it.
      const releaseSlow = hold(0);
      const [slow, fast] = [shard(), shard()];
      const slowDone = putWhole(drive, slow.id, slow.data);
      await until(() => calls === 1);
      let fastAcked = false;
      const fastDone = putWhole(drive, fast.id, fast.data).then(() => (fastAcked = true));
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(fastAcked, false, 'acknowledged before a record below it was written');
      releaseSlow(true);
      await Promise.all([slowDone, fastDone]);
      assert.equal(drive.packs.walSyncs, 0, 'records with every one below them written need no WAL fdatasync');
      const pack = drive.packs.lookup({ blockId: fast.id, shardIndex: 0 })!.pack;

      // A write below fails: the record above it is acknowledged with the WAL synced, and the pack is retired.
      const failSlow = hold(2);
      const [failing, above, after] = [shard(), shard(), shard()];
      const failingDone = assert.rejects(putWhole(drive, failing.id, failing.data));
      await until(() => calls === 3);
      const aboveDone = putWhole(drive, above.id, above.data);
      failSlow(false);
      await Promise.all([failingDone, aboveDone]);
      assert.equal(drive.packs.walSyncs, 1);
      await putWhole(drive, after.id, after.data);
      assert.notEqual(drive.packs.lookup({ blockId: after.id, shardIndex: 0 })!.pack, pack, 'a new pack after the failed write');
      assert.equal(drive.packs.walSyncs, 1);
      for (const s of [slow, fast, above, after]) assert.ok(await readsBack(drive, s.id, s.data));
    } finally {
      PackStore.directWrites = real;
    }
  });

  test('recovery - TESSERA_PACK_WAL_SYNC=always syncs the WAL for every group; another value is refused', async () => {
    process.env.TESSERA_PACK_WAL_SYNC = 'always';
    let drive: LocalDrive;
    try {
      drive = await openDrive();
    } finally {
      delete process.env.TESSERA_PACK_WAL_SYNC;
    }
    for (let i = 0; i < 3; i++) await putWhole(drive, newBlockId(), randomBytes(1_000));
    assert.equal(drive.packs.walSyncs, 3);
    process.env.TESSERA_PACK_WAL_SYNC = 'sometimes';
    try {
      await assert.rejects(LocalDrive.open(dirs.paths[next++]!, { create: true }), /TESSERA_PACK_WAL_SYNC must be "always" or "needed"/);
    } finally {
      delete process.env.TESSERA_PACK_WAL_SYNC;
    }
  });
});
