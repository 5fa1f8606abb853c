// The durable write end (native/file_sync.c): a synced file's pages leave the page cache, a plain fsync's
// stay; a failed sync rejects like fs's; bad arguments throw, never a crash; a shard committed either way
// reads back verified; a direct write lands its pieces at their place, padded, and leaves no page cached.
// Residency is read with util-linux's fincore.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, fstatSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DriveIo } from './drive-io.js';
import { newBlockId } from './ids.js';
import { fileSyncAddonPath, hugePagesOf, loadNativeFileSync, type FileSyncBinding } from './native-file-sync.js';
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
  const savedDirect = ShardWriter.directWrites;
  ShardWriter.directWrites = undefined; // written through the page cache: what the drop is about
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
    ShardWriter.directWrites = savedDirect;
  }
});

test('writeDirect - pieces land one after another at the position, padded with zeros to 4 KiB, past the page cache', { skip }, async () => {
  const path = join(dir, 'direct');
  const fd = openSync(path, 'w');
  try {
    assert.equal(addon().setDirect(fd, true), true, 'this file system takes O_DIRECT');
    const pieces = [randomBytes(100), randomBytes(70_000), Buffer.alloc(0), randomBytes(5)];
    const bytes = 100 + 70_000 + 5;
    assert.equal(await addon().writeDirect(fd, pieces, 8192), bytes);
    const padded = Math.ceil(bytes / 4096) * 4096;
    assert.equal(fstatSync(fd).size, 8192 + padded);
    assert.equal(residentBytes(path), 0, 'a direct write leaves nothing in the page cache');
    const file = readFileSync(path);
    assert.ok(file.subarray(0, 8192).equals(Buffer.alloc(8192)), 'the hole before the position reads as zeros');
    assert.ok(file.subarray(8192, 8192 + bytes).equals(Buffer.concat(pieces)));
    assert.ok(file.subarray(8192 + bytes).equals(Buffer.alloc(padded - bytes)), 'the padding is zeros');
    // A piece that is a view into a larger buffer is written from its own offset.
    const big = randomBytes(10_000);
    assert.equal(await addon().writeDirect(fd, [big.subarray(1234, 5678)], 0), 5678 - 1234);
    assert.ok(readFileSync(path).subarray(0, 5678 - 1234).equals(big.subarray(1234, 5678)));
    // Past the 2 MiB a thread keeps staged, a write stages in a buffer of its own; nothing is the empty write.
    const large = randomBytes(3 * 1024 * 1024 + 5);
    assert.equal(await addon().writeDirect(fd, [large], 1 << 20), large.length);
    assert.ok(readFileSync(path).subarray(1 << 20, (1 << 20) + large.length).equals(large));
    assert.equal(await addon().writeDirect(fd, [], 0), 0);
    assert.equal(addon().setDirect(fd, false), true);
    assert.equal(await addon().writeDirect(fd, [randomBytes(3)], 4096), 3, 'a descriptor without O_DIRECT writes the same way');
  } finally {
    closeSync(fd);
  }
});

/**
 * A fresh process loads the addon and makes four direct writes at once (so several threadpool threads map
 * their staging buffers); it counts its mappings advised MADV_HUGEPAGE ("hg" in VmFlags) that start and end
 * at 2 MiB boundaries, before and after. A fresh process, because V8 itself advises some memory in a test
 * runner's process.
 */
function hugeStagingMappings(path: string, env: NodeJS.ProcessEnv = process.env): { before: number; after: number; advised: boolean } {
  const script = `
    const { openSync, closeSync, readFileSync } = require('node:fs');
    const addon = { exports: {} };
    process.dlopen(addon, ${JSON.stringify(fileSyncAddonPath)});
    const huge = 2n << 20n;
    const count = () => {
      let n = 0, start, end;
      for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
        const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (range) [start, end] = [BigInt('0x' + range[1]), BigInt('0x' + range[2])];
        else if (/^VmFlags:.* hg( |$)/.test(line) && start % huge === 0n && (end - start) % huge === 0n) n++;
      }
      return n;
    };
    const before = count();
    const fd = openSync(${JSON.stringify(path)}, 'w');
    addon.exports.setDirect(fd, true);
    Promise.all([0, 1, 2, 3].map((i) => addon.exports.writeDirect(fd, [Buffer.alloc(1 << 20, i)], i * (2 << 20)))).then(() => {
      closeSync(fd);
      process.stdout.write(JSON.stringify({ before, after: count(), advised: addon.exports.hugePages }));
    });
  `;
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', env })) as { before: number; after: number; advised: boolean };
}

test('writeDirect - stages in memory advised into transparent huge pages; TESSERA_HUGE_PAGES=off leaves the advice out', { skip: skip || (binding ? hugePagesOf(binding).reason : false) }, () => {
  const on = hugeStagingMappings(join(dir, 'huge'));
  assert.equal(on.advised, true, 'the addon says it advises');
  assert.ok(on.after > on.before, `a staging buffer is a 2 MiB-aligned mapping advised MADV_HUGEPAGE (${on.before} before the writes, ${on.after} after)`);
  const off = hugeStagingMappings(join(dir, 'huge-off'), { ...process.env, TESSERA_HUGE_PAGES: 'off' });
  assert.equal(off.advised, false, 'the addon says it does not advise');
  assert.equal(off.after, off.before, 'no mapping was advised');
});

test('hugePagesOf - says why direct writes do not stage in huge pages', () => {
  assert.deepEqual(hugePagesOf({ hugePages: true }, 'always [madvise] never\n'), {});
  assert.deepEqual(hugePagesOf({ hugePages: true }, '[always] madvise never\n'), {});
  assert.deepEqual(hugePagesOf({ hugePages: true }, 'always madvise [never]\n'), { reason: 'transparent huge pages are off in this kernel ("never")' });
  assert.deepEqual(hugePagesOf({ hugePages: true }, null), { reason: 'this kernel has no transparent huge pages' });
  assert.deepEqual(hugePagesOf({ hugePages: false }, 'always [madvise] never\n'), { reason: 'TESSERA_HUGE_PAGES=off' });
  assert.deepEqual(hugePagesOf({}, 'always [madvise] never\n'), { reason: 'the addon predates huge-page staging: npm run build:native' });
});

test('writeDirect and setDirect - bad arguments throw, a bad descriptor rejects or says false', { skip }, async () => {
  const write = addon().writeDirect as unknown as (...args: unknown[]) => Promise<number>;
  const set = addon().setDirect as unknown as (...args: unknown[]) => boolean;
  assert.throws(() => write(), TypeError);
  assert.throws(() => write(-1, [], 0), RangeError);
  assert.throws(() => write(0, 'bytes', 0), TypeError);
  assert.throws(() => write(0, [Buffer.alloc(1), 'x'], 0), TypeError);
  assert.throws(() => write(0, [new Uint16Array(4)], 0), TypeError);
  assert.throws(() => write(0, [Buffer.alloc(1)], 100), RangeError, 'the position must be 4 KiB aligned');
  assert.throws(() => write(0, [Buffer.alloc(1)], -4096), RangeError);
  assert.throws(() => write(0, Array.from({ length: 5000 }, () => Buffer.alloc(1)), 0), RangeError);
  assert.throws(() => write(0, [Buffer.alloc(40 << 20), Buffer.alloc(40 << 20)], 0), RangeError, 'at most 64 MiB');
  assert.throws(() => set(), TypeError);
  assert.throws(() => set(0, 1), TypeError);
  const { fd } = writtenFile('closed-direct', 10);
  closeSync(fd);
  await assert.rejects(addon().writeDirect(fd, [Buffer.alloc(10)], 0), (err: NodeJS.ErrnoException) => err.code === 'EBADF' && err.syscall === 'pwrite');
  assert.equal(addon().setDirect(fd, true), false, 'a closed descriptor');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const pipeFd = openSync(fifo, constants.O_RDWR); // Linux opens a FIFO read-write without waiting for a peer
  try {
    await assert.rejects(addon().writeDirect(pipeFd, [Buffer.alloc(10)], 0), (err: NodeJS.ErrnoException) => err.code === 'ESPIPE');
  } finally {
    closeSync(pipeFd);
  }
});
