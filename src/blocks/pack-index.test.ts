// The pack index when another process holds its write lock (issue 17): every worker process of a server
// writes to each drive's packs/index.db, and a write that finds the lock taken must wait on a timer, not in
// SQLite's busy handler, which sleeps on the event loop.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import { PackIndex, type PackMarks, type PackRow } from './pack-index.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-pack-index-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Another process's connection in the middle of a write transaction, until release(). */
function holdWriteLock(path: string): { release(): void } {
  const other = new Database(path, { fileMustExist: true });
  other.exec('BEGIN IMMEDIATE');
  other.prepare("UPDATE packs SET touched_ms = touched_ms + 1 WHERE state = 'open'").run();
  return {
    release() {
      other.exec('COMMIT');
      other.close();
    },
  };
}

function rowOf(pack: number, blockId: string, offset = 0): PackRow {
  return { blockId, shardIndex: 0, pack, offset, bytes: 4096, writtenMs: 1 };
}

function marksOf(pack: number, end = 4096, indexedTo = end): Map<number, PackMarks> {
  return new Map([[pack, { end, indexedTo }]]);
}

test('a write that finds the lock taken waits on a timer, and the event loop runs meanwhile', async () => {
  const path = join(dir, 'wait.db');
  const index = new PackIndex(path);
  try {
    const pack = await index.createPack('me', 1);
    const held = holdWriteLock(path);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 1);
    const started = performance.now();
    const applied = index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'aa11') }], marksOf(pack), 'me', 2);
    // The loop is free while the write waits: this sleep ends, and the interval ticks, before it does. (In
    // SQLite's busy handler the loop would stop here until the write failed SQLITE_BUSY after 5 s.)
    await sleep(40);
    assert.equal(index.lookup({ blockId: 'aa11', shardIndex: 0 }), undefined);
    assert.ok(ticks > 0, 'no timer fired while the write waited');
    assert.ok(index.busyWaits >= 1, `busy waits ${index.busyWaits}`);
    held.release();
    await applied;
    clearInterval(ticker);
    assert.ok(performance.now() - started >= 40);
    assert.deepEqual(index.lookup({ blockId: 'aa11', shardIndex: 0 }), rowOf(pack, 'aa11'));
    assert.equal(index.info(pack)?.liveBytes, 4096);
  } finally {
    index.close();
  }
});

test('a write gives up with SQLITE_BUSY once the lock stays taken past its timeout, and changes nothing', async () => {
  const path = join(dir, 'timeout.db');
  const index = new PackIndex(path, { create: true, busyTimeoutMs: 60 });
  try {
    const pack = await index.createPack('me', 1);
    const held = holdWriteLock(path);
    try {
      await assert.rejects(
        index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'bb22') }], marksOf(pack), 'me', 2),
        (err: { code?: string }) => err.code === 'SQLITE_BUSY',
      );
      await assert.rejects(index.remove('bb22'), (err: { code?: string }) => err.code === 'SQLITE_BUSY');
    } finally {
      held.release();
    }
    assert.equal(index.lookup({ blockId: 'bb22', shardIndex: 0 }), undefined);
    // Free again: the same write goes through at once.
    await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'bb22') }], marksOf(pack), 'me', 3);
    assert.equal(index.lookup({ blockId: 'bb22', shardIndex: 0 })?.pack, pack);
    assert.equal(await index.remove('bb22'), 1);
  } finally {
    index.close();
  }
});

test('reads go on while another process holds the write lock (WAL)', async () => {
  const path = join(dir, 'reads.db');
  const index = new PackIndex(path);
  try {
    const pack = await index.createPack('me', 1);
    await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'cc33') }], marksOf(pack), 'me', 2);
    const held = holdWriteLock(path);
    try {
      assert.equal(index.lookup({ blockId: 'cc33', shardIndex: 0 })?.pack, pack);
      assert.equal(index.rowsWithPrefix('cc').length, 1);
      assert.equal(index.busyWaits, 0);
    } finally {
      held.release();
    }
  } finally {
    index.close();
  }
});

test('a group says whether its packs are still open and ours; the marks only grow', async () => {
  const index = new PackIndex(join(dir, 'ours.db'));
  try {
    const pack = await index.createPack('me', 1);
    assert.equal(await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'dd44') }], marksOf(pack, 4096, 0), 'me', 2), true);
    assert.equal(await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'dd45', 4096) }], marksOf(pack, 8192), 'someone else', 3), false);
    await index.applyGroup([], marksOf(pack, 4096, 4096), 'me', 4);
    assert.deepEqual([index.info(pack)?.endOffset, index.info(pack)?.indexedTo], [8192, 8192]);
    assert.deepEqual(index.stalePacks(5).map((p) => p.id), [pack]);
    assert.equal(await index.sealStale(pack, 6, 5), true);
    assert.equal(await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'dd46', 8192) }], marksOf(pack, 12288), 'me', 7), false);
    assert.deepEqual(index.openPacks(), []);
  } finally {
    index.close();
  }
});

test('recovered rows never replace a row their shard has, and count as live bytes once', async () => {
  const index = new PackIndex(join(dir, 'recover.db'));
  try {
    const pack = await index.createPack('me', 1);
    const other = await index.createPack('me', 1);
    await index.applyGroup([{ kind: 'insert', row: rowOf(other, 'ee55') }], marksOf(other), 'me', 2);
    const found = [rowOf(pack, 'ee55'), rowOf(pack, 'ee56', 4096)];
    assert.equal(await index.recoverRows(pack, found, 8192), 1);
    assert.equal(await index.recoverRows(pack, found, 8192), 0);
    assert.equal(index.lookup({ blockId: 'ee55', shardIndex: 0 })?.pack, other);
    assert.equal(index.lookup({ blockId: 'ee56', shardIndex: 0 })?.offset, 4096);
    assert.deepEqual([index.info(pack)?.liveBytes, index.info(pack)?.indexedTo, index.info(pack)?.endOffset], [4096, 8192, 8192]);
  } finally {
    index.close();
  }
});

test('an index made before indexed_to gets it, covering each pack to its end_offset', async () => {
  const path = join(dir, 'old.db');
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec(`CREATE TABLE packs (id INTEGER PRIMARY KEY AUTOINCREMENT, state TEXT NOT NULL, owner TEXT, touched_ms INTEGER NOT NULL,
              end_offset INTEGER NOT NULL DEFAULT 0, live_bytes INTEGER NOT NULL DEFAULT 0);
            INSERT INTO packs (state, owner, touched_ms, end_offset) VALUES ('open', 'gone', 1, 12288);`);
  old.close();
  const index = new PackIndex(path, { create: false });
  try {
    assert.deepEqual(index.openPacks().map((p) => [p.id, p.endOffset, p.indexedTo]), [[1, 12288, 12288]]);
  } finally {
    index.close();
  }
  const again = new PackIndex(path, { create: false }); // a second open finds the column there
  again.close();
});
