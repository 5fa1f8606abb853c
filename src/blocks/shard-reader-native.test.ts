// ShardReader through the native verified read: the same outcomes as the fs read and its separate check
// (right bytes, rot and truncation as ERR_SHARD_CORRUPT, timeouts as DriveIo makes them), and the
// descriptor the addon reads kept open until its read ends, whatever close() and timeouts do meanwhile.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import { mkdtemp, open, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, test } from 'node:test';
import { crc32 } from '@node-rs/crc32';
import { BufferPool } from './buffer-pool.js';
import { DriveIo } from './drive-io.js';
import { loadNativeShardRead, type ShardReadBinding } from './native-shard-read.js';
import { ShardReader, ShardWriter } from './shard-file.js';
import { blockChecksumBytes, blockFileOffset } from './shard-format.js';

const { native, reason } = loadNativeShardRead();
const nativeSkip = native || process.env.CI === 'true' ? false : reason ?? 'the native addon did not load';

const blockBytes = 64 * 1024;
const blockId = 'cd'.repeat(16);
const inUse = ShardReader.nativeRead;
const cachedInUse = ShardReader.cachedReads;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-reader-native-'));
});
after(() => rm(dir, { recursive: true, force: true }));
afterEach(() => {
  ShardReader.nativeRead = inUse;
  ShardReader.cachedReads = cachedInUse;
});

async function writeShard(name: string, data: Buffer, io: DriveIo): Promise<string> {
  const path = join(dir, name);
  const writer = await ShardWriter.create(io, { tmpPath: `${path}.tmp`, finalPath: path, blockId, shardIndex: 0, blockBytes });
  await writer.append(data, { last: true });
  await writer.commit();
  return path;
}

/** The addon, with each read held until `release()`; `fds` are the descriptors it was asked to read. */
function gatedBinding(): { binding: ShardReadBinding; fds: number[]; release: () => void; reads: Promise<number>[] } {
  const real = native!;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const fds: number[] = [];
  const reads: Promise<number>[] = [];
  const binding: ShardReadBinding = {
    firstBadBlock: (bytes, size) => real.firstBadBlock(bytes, size),
    readVerified: (fd, buffer, position, length, size) => {
      fds.push(fd);
      const read = gate.then(() => real.readVerified(fd, buffer, position, length, size));
      reads.push(read);
      return read;
    },
  };
  return { binding, fds, release, reads };
}

/** Whether `fd` still names the file whose inode is `ino` (a closed number may have been reused since). */
function stillOpen(fd: number, ino: number): boolean {
  try {
    return fstatSync(fd).ino === ino;
  } catch {
    return false;
  }
}

test('ShardReader - a native read returns the right bytes and fails a rotted block as ERR_SHARD_CORRUPT naming it', { skip: nativeSkip }, async () => {
  ShardReader.nativeRead = native;
  const io = new DriveIo(dir, { timeoutMs: 60_000, inFlightMax: 4 });
  const data = randomBytes(20 * blockBytes + 123);
  const path = await writeShard('rot', data, io);
  const pool = new BufferPool({ classBytes: blockBytes + blockChecksumBytes, classesMax: 32, idleBytesMax: 0, shared: true });
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  const start = 3 * blockBytes + 5;
  const { pieces } = await reader.readPooled(start, data.length, pool);
  assert.deepEqual(Buffer.concat(pieces), data.subarray(start));
  assert.deepEqual(await reader.read(17, 40), data.subarray(17, 40), 'a small unpooled read');
  const file = await open(path, 'r+');
  await file.write(Buffer.from([data[7 * blockBytes + 9]! ^ 0xff]), 0, 1, blockFileOffset(7, blockBytes) + 9);
  await file.close();
  // The cached descriptor sees the rot too: every read is checked, not just the first.
  await assert.rejects(reader.readPooled(start, data.length, pool), (err: Error & { code?: string }) => err.code === 'ERR_SHARD_CORRUPT' && /block 7 /.test(err.message));
  assert.deepEqual(Buffer.concat((await reader.readPooled(0, 7 * blockBytes, pool)).pieces), data.subarray(0, 7 * blockBytes));
  await reader.close();
});

test('ShardReader - a native read of a file cut short after it was opened fails ERR_SHARD_CORRUPT', { skip: nativeSkip }, async () => {
  ShardReader.nativeRead = native;
  const io = new DriveIo(dir, { timeoutMs: 60_000, inFlightMax: 4 });
  const data = randomBytes(4 * blockBytes);
  const path = await writeShard('short', data, io);
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  await truncate(path, blockFileOffset(3, blockBytes) + 100);
  await assert.rejects(reader.read(0, data.length), (err: Error & { code?: string }) => err.code === 'ERR_SHARD_CORRUPT' && /truncated/.test(err.message));
  assert.deepEqual(await reader.read(0, 2 * blockBytes), data.subarray(0, 2 * blockBytes));
  await reader.close();
  await assert.rejects(reader.read(0, 10), (err: Error & { code?: string }) => err.code === 'ERR_SHARD_MISSING', 'a read after close');
});

test('ShardReader - close() keeps the descriptor open until a native read in flight ends', { skip: nativeSkip }, async () => {
  const io = new DriveIo(dir, { timeoutMs: 60_000, inFlightMax: 4 });
  const data = randomBytes(2 * blockBytes + 1);
  const path = await writeShard('close', data, io);
  const gated = gatedBinding();
  ShardReader.nativeRead = gated.binding;
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  const read = reader.read(0, data.length);
  while (gated.fds.length === 0) await sleep(1);
  const fd = gated.fds[0]!;
  const { ino } = fstatSync(fd);
  let closed = false;
  const closing = reader.close().then(() => (closed = true));
  await sleep(50);
  assert.ok(stillOpen(fd, ino) && !closed, 'the descriptor is open while the read waits');
  gated.release();
  assert.deepEqual(await read, data);
  await closing;
  assert.ok(!stillOpen(fd, ino), 'closed once the read ended');
});

test('ShardReader - a native read that times out fails ERR_TARGET_TIMEOUT, keeps its pooled buffer out of the pool, and holds its descriptor until it ends', { skip: nativeSkip }, async () => {
  const io = new DriveIo(dir, { timeoutMs: 100, inFlightMax: 4 });
  const data = randomBytes(8 * blockBytes);
  const path = await writeShard('timeout', data, io);
  const gated = gatedBinding();
  ShardReader.nativeRead = gated.binding;
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  const pool = new BufferPool({ classBytes: blockBytes + blockChecksumBytes, classesMax: 32, idleBytesMax: 64 * blockBytes, shared: true });
  const keepAlive = setInterval(() => undefined, 1000); // DriveIo's watchdog is unref'd, and the gated read holds nothing
  after(() => clearInterval(keepAlive));
  await assert.rejects(reader.readPooled(0, data.length, pool), (err: Error & { code?: string }) => err.code === 'ERR_TARGET_TIMEOUT');
  assert.equal(pool.idleBytesNow, 0, 'the buffer the read may still write is not lent again');
  assert.ok(io.suspect);
  const fd = gated.fds[0]!;
  const { ino } = fstatSync(fd);
  await reader.close(); // resolves after a timeout at most, the read still waiting
  assert.ok(stillOpen(fd, ino), 'the descriptor outlives close() while the read waits');
  gated.release();
  assert.equal(await gated.reads[0], blockFileOffset(8, blockBytes) - blockFileOffset(0, blockBytes));
  for (let i = 0; i < 100 && stillOpen(fd, ino); i++) await sleep(10);
  assert.ok(!stillOpen(fd, ino), 'closed once the read ended');
  clearInterval(keepAlive);
});

/** The addon, counting which of its reads ShardReader used and what the page-cache read answered. */
function spyBinding(readCached?: ShardReadBinding['readCached']): { binding: ShardReadBinding; cached: (number | null)[]; threadpool: () => number } {
  const real = native!;
  const cached: (number | null)[] = [];
  let threadpool = 0;
  const binding: ShardReadBinding = {
    firstBadBlock: (bytes, size) => real.firstBadBlock(bytes, size),
    readVerified: (...args) => {
      threadpool++;
      return real.readVerified(...args);
    },
    readCached: (...args) => {
      const result = (readCached ?? real.readCached!)(...args);
      cached.push(result);
      return result;
    },
  };
  return { binding, cached, threadpool: () => threadpool };
}

test('ShardReader - bytes in the page cache are read and checked at once, not on the threadpool; rot there fails ERR_SHARD_CORRUPT', { skip: nativeSkip }, async () => {
  const spy = spyBinding();
  ShardReader.nativeRead = spy.binding;
  ShardReader.cachedReads = true; // whatever TESSERA_CACHED_READ says: this is the path under test
  const io = new DriveIo(dir, { timeoutMs: 60_000, inFlightMax: 4 });
  const data = randomBytes(12 * blockBytes + 77);
  const path = await writeShard('cached', data, io);
  const pool = new BufferPool({ classBytes: blockBytes + blockChecksumBytes, classesMax: 32, idleBytesMax: 0, shared: true });
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  // The first read may find the bytes on disk only (shard writes can bypass the cache): it then goes to the
  // threadpool, which leaves them cached.
  assert.deepEqual(Buffer.concat((await reader.readPooled(5, data.length, pool)).pieces), data.subarray(5));
  assert.equal(spy.threadpool(), spy.cached.filter((r) => r === null).length, 'each read the cache did not answer went to the threadpool');
  const before = spy.threadpool();
  assert.deepEqual(Buffer.concat((await reader.readPooled(blockBytes + 1, data.length, pool)).pieces), data.subarray(blockBytes + 1));
  assert.equal(spy.threadpool(), before, 'the cached bytes were read without the threadpool');
  assert.equal(spy.cached.at(-1), 11 * (blockBytes + blockChecksumBytes) + 77 + blockChecksumBytes);
  const file = await open(path, 'r+');
  await file.write(Buffer.from([data[7 * blockBytes + 9]! ^ 0xff]), 0, 1, blockFileOffset(7, blockBytes) + 9);
  await file.close();
  await assert.rejects(reader.readPooled(0, data.length, pool), (err: Error & { code?: string }) => err.code === 'ERR_SHARD_CORRUPT' && /block 7 /.test(err.message));
  assert.equal(spy.cached.at(-1), -1 - 7, 'found by the page-cache read');
  assert.equal(spy.threadpool(), before);
  await reader.close();
});

test('ShardReader - a read the page cache cannot answer, a long one, or one on a suspect drive goes to the threadpool', { skip: nativeSkip }, async () => {
  const io = new DriveIo(dir, { timeoutMs: 60_000, inFlightMax: 4 });
  const data = randomBytes(20 * blockBytes + 123);
  const path = await writeShard('uncached', data, io);
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  await reader.read(0, data.length); // now in the page cache

  ShardReader.cachedReads = true;
  const missed = spyBinding(() => null);
  ShardReader.nativeRead = missed.binding;
  assert.deepEqual(await reader.read(100, 3 * blockBytes), data.subarray(100, 3 * blockBytes));
  assert.deepEqual([missed.cached, missed.threadpool()], [[null], 1], 'an unanswered read');

  const long = spyBinding();
  ShardReader.nativeRead = long.binding;
  assert.deepEqual(await reader.read(0, data.length), data, '20 blocks: more than a 1 MiB chunk');
  assert.deepEqual([long.cached, long.threadpool()], [[], 1], 'a long read');

  const suspect = spyBinding();
  ShardReader.nativeRead = suspect.binding;
  Object.defineProperty(io, 'answersNow', { get: () => false });
  assert.deepEqual(await reader.read(0, blockBytes), data.subarray(0, blockBytes));
  assert.deepEqual([suspect.cached, suspect.threadpool()], [[], 1], 'a drive that does not answer now');
  await reader.close();
});

test('native shard read - readCached checks its arguments as readVerified does, and answers null for bytes it cannot read now', { skip: nativeSkip }, async () => {
  const binding = native!;
  const path = join(dir, 'raw');
  const run = Buffer.alloc(3 * (blockBytes + blockChecksumBytes));
  for (let block = 0; block < 3; block++) {
    const at = block * (blockBytes + blockChecksumBytes);
    randomBytes(blockBytes).copy(run, at);
    run.writeUInt32LE(crc32(run.subarray(at, at + blockBytes)), at + blockBytes);
  }
  const file = await open(path, 'w+');
  await file.write(run, 0, run.length, 0);
  const into = Buffer.alloc(run.length);
  assert.throws(() => binding.readCached!(file.fd, into, 0, run.length + 1, blockBytes), /must not exceed the buffer/);
  assert.throws(() => binding.readCached!(file.fd, into, 0, blockBytes + blockChecksumBytes + 3, blockBytes), /whole checksum blocks/);
  assert.throws(() => binding.readCached!(-1, into, 0, run.length, blockBytes), /fd must be/);
  assert.equal(binding.readCached!(file.fd, into, 0, run.length, blockBytes), run.length, 'just written: in the cache');
  assert.deepEqual(into, run);
  const longer = Buffer.alloc(run.length + blockBytes + blockChecksumBytes);
  assert.equal(binding.readCached!(file.fd, longer, 0, longer.length, blockBytes), null, 'past the end of the file');
  await file.close();
});
