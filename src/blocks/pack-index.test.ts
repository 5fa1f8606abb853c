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
import { PackIndex, type PackRow } from './pack-index.js';

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

function rowOf(pack: number, blockId: string): PackRow {
  return { blockId, shardIndex: 0, pack, offset: 0, bytes: 4096, writtenMs: 1 };
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
    const applied = index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'aa11') }], new Map([[pack, 4096]]), 2);
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
        index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'bb22') }], new Map([[pack, 4096]]), 2),
        (err: { code?: string }) => err.code === 'SQLITE_BUSY',
      );
      await assert.rejects(index.remove('bb22'), (err: { code?: string }) => err.code === 'SQLITE_BUSY');
    } finally {
      held.release();
    }
    assert.equal(index.lookup({ blockId: 'bb22', shardIndex: 0 }), undefined);
    // Free again: the same write goes through at once.
    await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'bb22') }], new Map([[pack, 4096]]), 3);
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
    await index.applyGroup([{ kind: 'insert', row: rowOf(pack, 'cc33') }], new Map([[pack, 4096]]), 2);
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
