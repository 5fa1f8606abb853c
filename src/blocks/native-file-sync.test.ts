// The durable write end (native/file_sync.c): a synced file's pages leave the page cache, a plain fsync's
// stay; a failed sync rejects like fs's; bad arguments throw, never a crash; a shard committed either way
// reads back verified. Residency is read with util-linux's fincore.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DriveIo } from './drive-io.js';
import { newBlockId } from './ids.js';
import { loadNativeFileSync, type FileSyncBinding } from './native-file-sync.js';
import { ShardReader, ShardWriter } from './shard-file.js';
import { residentBytes, suiteShardsDir } from './test-helpers.js';

const { binding, reason } = loadNativeFileSync();
// CI proves the addon is built; elsewhere a machine without cc skips these.
const skip = binding || process.env.CI === 'true' ? false : reason ?? 'the native addon did not load';

function addon(): FileSyncBinding {
  assert.ok(binding, `The file sync addon did not load: ${reason ?? 'unknown'}`);
  return binding;
}

let dir: string;
suiteShardsDir((made) => (dir = made));

function writtenFile(name: string, bytes: number): { path: string; fd: number } {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  writeSync(fd, randomBytes(bytes));
  return { path, fd };
}

test('syncDropping - the synced file leaves the page cache; an fsync alone leaves it there', { skip }, async () => {
  const dropped = writtenFile('dropped', 1 << 20);
  const kept = writtenFile('kept', 1 << 20);
  try {
    await addon().syncDropping(dropped.fd, false, 0, 0);
    fsyncSync(kept.fd);
    assert.equal(residentBytes(dropped.path), 0);
    assert.equal(residentBytes(kept.path), 1 << 20, 'the control: written pages stay cached after a plain fsync');
    const ranged = writtenFile('ranged', 1 << 20);
    try {
      await addon().syncDropping(ranged.fd, true, 512 * 1024, 0);
      // Pages are dropped a whole folio at a time, and a 1 MiB write may sit in one large folio, so all
      // that can be said of a part is that nothing before it went.
      assert.ok(residentBytes(ranged.path) >= 512 * 1024, 'the bytes before the range stay (fdatasync)');
    } finally {
      closeSync(ranged.fd);
    }
  } finally {
    closeSync(dropped.fd);
    closeSync(kept.fd);
  }
});

test('syncDropping - a failed sync rejects with the errno error fs would give', { skip }, async () => {
  const { fd } = writtenFile('closed', 10);
  closeSync(fd);
  await assert.rejects(addon().syncDropping(fd, false, 0, 0), (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.syscall === 'fsync');
  await assert.rejects(addon().syncDropping(fd, true, 0, 0), (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.syscall === 'fdatasync');
});

test('syncDropping - bad arguments throw', { skip }, () => {
  const sync = addon().syncDropping as unknown as (...args: unknown[]) => Promise<void>;
  assert.throws(() => sync(), TypeError);
  assert.throws(() => sync(-1, false, 0, 0), RangeError);
  assert.throws(() => sync(1.5, false, 0, 0), RangeError);
  assert.throws(() => sync(0, 'yes', 0, 0), TypeError);
  assert.throws(() => sync(0, false, -1, 0), RangeError);
  assert.throws(() => sync(0, false, 0, 2 ** 53), RangeError);
  assert.throws(() => sync(0, false, 2 ** 52, 2 ** 52), RangeError);
});

test('ShardWriter - a committed shard is read back verified whether its pages were dropped or kept', { skip }, async () => {
  const saved = ShardWriter.fileSync;
  try {
    for (const sync of [addon(), undefined]) {
      ShardWriter.fileSync = sync;
      const io = new DriveIo(dir, { timeoutMs: 5000, inFlightMax: 4 });
      const blockId = newBlockId();
      const finalPath = join(dir, `${blockId}.0`);
      const data = randomBytes(300_000);
      const writer = await ShardWriter.create(io, { tmpPath: `${finalPath}.tmp.1`, finalPath, blockId, shardIndex: 0, blockBytes: 65536 });
      await writer.append(data, { last: true });
      await writer.commit();
      assert.equal(residentBytes(finalPath) === 0, sync !== undefined, sync ? 'dropped after the commit' : 'kept without the addon');
      const reader = await ShardReader.open(io, finalPath, { blockId, shardIndex: 0, shardBytes: data.length });
      try {
        assert.ok((await reader.read(0, data.length)).equals(data));
      } finally {
        await reader.close();
      }
    }
  } finally {
    ShardWriter.fileSync = saved;
  }
});
