// The native verified read (native/shard_read.c): right bytes for good blocks, a flipped bit in data or CRC
// found in the right block, short files and pread errors reported, bad arguments thrown, never a crash.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { crc32 } from '@node-rs/crc32';
import { loadNativeShardRead, nativeShardRead, shardReadSummary, type ShardReadBinding } from './native-shard-read.js';
import { blockChecksumBytes } from './shard-format.js';

const off = process.env.TESSERA_NATIVE_SHARD_READ === 'off';
// Loaded here whatever TESSERA_NATIVE_SHARD_READ says, to test it.
const { native, binding, reason } = loadNativeShardRead();
// CI proves the addon is built; elsewhere a machine without cc or libisal-dev skips these.
const nativeSkip = native || process.env.CI === 'true' ? false : reason ?? 'the native addon did not load';

function addon(): ShardReadBinding {
  assert.ok(native, `The native shard read is not in use: ${reason ?? 'unknown'}`);
  return native;
}

const blockBytes = 1000;
const stride = blockBytes + blockChecksumBytes;
const headerBytes = 48;

/** `dataBytes` of random shard data as the file lays it out: blocks, each followed by its CRC32 LE. */
function blocksOf(data: Buffer): Buffer {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += blockBytes) {
    const block = data.subarray(at, at + blockBytes);
    const sum = Buffer.allocUnsafe(blockChecksumBytes);
    sum.writeUInt32LE(crc32(block), 0);
    pieces.push(block, sum);
  }
  return Buffer.concat(pieces);
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-shard-read-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** A file of a 48-byte header and `run`, open for reading while `use` runs. */
async function withFile<T>(run: Buffer, use: (fd: number) => Promise<T>): Promise<T> {
  const path = join(dir, `shard-${randomBytes(4).toString('hex')}`);
  writeFileSync(path, Buffer.concat([Buffer.alloc(headerBytes, 0xee), run]));
  const fd = openSync(path, 'r');
  try {
    return await use(fd);
  } finally {
    closeSync(fd);
  }
}

test('native shard read - the addon loads when CI=true, and is the read in use unless TESSERA_NATIVE_SHARD_READ=off', { skip: nativeSkip }, () => {
  addon();
  assert.equal(nativeShardRead === undefined, off);
  assert.equal(shardReadSummary().read, off ? 'fs' : 'native');
  assert.equal(shardReadSummary().cached, !off && process.env.TESSERA_CACHED_READ !== 'off', 'the page-cache read is on with the addon');
});

test('native shard read - good blocks read back whole, from any block, and with a short last block', { skip: nativeSkip }, async () => {
  const data = randomBytes(5 * blockBytes + 321);
  const run = blocksOf(data);
  await withFile(run, async (fd) => {
    const whole = Buffer.alloc(run.length);
    assert.equal(await addon().readVerified(fd, whole, headerBytes, run.length, blockBytes), run.length);
    assert.ok(whole.equals(run));
    // Blocks 2 and 3 into the middle of a larger buffer: only the view is written.
    const big = Buffer.alloc(4 * stride, 0x55);
    const view = big.subarray(stride, 3 * stride);
    assert.equal(await addon().readVerified(fd, view, headerBytes + 2 * stride, 2 * stride, blockBytes), 2 * stride);
    assert.ok(view.equals(run.subarray(2 * stride, 4 * stride)));
    assert.ok(big.subarray(0, stride).every((b) => b === 0x55) && big.subarray(3 * stride).every((b) => b === 0x55));
    const last = run.length - 5 * stride;
    const tail = Buffer.alloc(last);
    assert.equal(await addon().readVerified(fd, tail, headerBytes + 5 * stride, last, blockBytes), last);
    assert.ok(tail.equals(run.subarray(5 * stride)));
  });
  // One block of one byte, and 64 KiB blocks into shared memory (the read pool's buffers).
  const one = blocksOf(randomBytes(1));
  await withFile(one, async (fd) => assert.equal(await addon().readVerified(fd, Buffer.alloc(5), headerBytes, 5, blockBytes), 5));
  const big = randomBytes(3 * 65536 + 7);
  const bigRun = Buffer.concat([0, 1, 2, 3].map((i) => {
    const block = big.subarray(i * 65536, (i + 1) * 65536);
    const sum = Buffer.allocUnsafe(4);
    sum.writeUInt32LE(crc32(block), 0);
    return Buffer.concat([block, sum]);
  }));
  await withFile(bigRun, async (fd) => {
    const shared = Buffer.from(new SharedArrayBuffer(bigRun.length));
    assert.equal(await addon().readVerified(fd, shared, headerBytes, bigRun.length, 65536), bigRun.length);
    assert.ok(shared.equals(bigRun));
  });
});

test('native shard read - a flipped bit in a block\'s data or in its CRC fails that block, the first of two', { skip: nativeSkip }, async () => {
  const run = blocksOf(randomBytes(4 * blockBytes + 10));
  for (const [at, block] of [[2 * stride + 500, 2], [stride + blockBytes + 3, 1], [4 * stride + 9, 4], [4 * stride + 10 + 3, 4], [0, 0]] as const) {
    const rotten = Buffer.from(run);
    rotten[at]! ^= 0x10;
    assert.equal(addon().firstBadBlock(rotten, blockBytes), block, `sync, byte ${at}`);
    await withFile(rotten, async (fd) => {
      assert.equal(await addon().readVerified(fd, Buffer.alloc(run.length), headerBytes, run.length, blockBytes), -1 - block, `byte ${at}`);
      // A run that starts after the bad block reads clean; one that starts at it fails its first block.
      if (block < 4) assert.equal(await addon().readVerified(fd, Buffer.alloc(stride), headerBytes + (block + 1) * stride, stride, blockBytes), stride);
      assert.equal(await addon().readVerified(fd, Buffer.alloc(stride), headerBytes + block * stride, Math.min(stride, run.length - block * stride), blockBytes), -1);
    });
  }
  const twice = Buffer.from(run);
  twice[3 * stride + 1]! ^= 1;
  twice[stride + 1]! ^= 1;
  assert.equal(addon().firstBadBlock(twice, blockBytes), 1);
});

test('native shard read - a file that ends early gives the bytes read, unchecked; a failed pread rejects with its errno', { skip: nativeSkip }, async () => {
  const run = blocksOf(randomBytes(3 * blockBytes));
  await withFile(run.subarray(0, 2 * stride + 100), async (fd) => {
    assert.equal(await addon().readVerified(fd, Buffer.alloc(run.length), headerBytes, run.length, blockBytes), 2 * stride + 100);
    assert.equal(await addon().readVerified(fd, Buffer.alloc(stride), headerBytes + 3 * stride, stride, blockBytes), 0, 'past the end');
  });
  const directory = openSync(dir, 'r'); // pread of a directory fails EISDIR
  try {
    await assert.rejects(addon().readVerified(directory, Buffer.alloc(stride), 0, stride, blockBytes), (err: NodeJS.ErrnoException) => err.code === 'EISDIR' && err.syscall === 'pread' && typeof err.errno === 'number');
  } finally {
    closeSync(directory);
  }
  // Not a closed fd of this process: another open may have taken its number since.
  await assert.rejects(addon().readVerified(2 ** 31 - 1, Buffer.alloc(stride), 0, stride, blockBytes), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
});

test('native shard read - bad arguments throw TypeError or RangeError, never crash', { skip: nativeSkip }, () => {
  const { readVerified, firstBadBlock } = binding!;
  const call = (...args: unknown[]) => () => (readVerified as (...a: unknown[]) => unknown)(...args);
  const buffer = Buffer.alloc(2 * stride);
  assert.throws(call(), TypeError);
  assert.throws(call(0, buffer, 0, stride), TypeError, 'four arguments');
  assert.throws(call(0, buffer, 0, stride, blockBytes, 1), TypeError, 'six arguments');
  for (const fd of [-1, 1.5, NaN, 2 ** 31, '3', undefined]) assert.throws(call(fd, buffer, 0, stride, blockBytes), RangeError, `fd ${String(fd)}`);
  for (const bytes of [new Uint16Array(stride), new DataView(new ArrayBuffer(stride)), 'x'.repeat(stride), null, [1, 2]]) {
    assert.throws(call(0, bytes, 0, stride, blockBytes), TypeError);
  }
  for (const position of [-1, 0.5, 2 ** 53, Infinity, null]) assert.throws(call(0, buffer, position, stride, blockBytes), RangeError, `position ${String(position)}`);
  assert.throws(call(0, buffer, 2 ** 53 - 2, stride, blockBytes), RangeError, 'a read that ends past 2^53 - 1');
  for (const length of [0, -stride, 2 * stride + 1, 1.5]) assert.throws(call(0, buffer, 0, length, blockBytes), RangeError, `length ${length}`);
  for (const size of [0, -1, 2 ** 31, 0.5]) assert.throws(call(0, buffer, 0, stride, size), RangeError, `block size ${size}`);
  // Lengths that are not whole blocks plus a last block of data and a CRC: 4 bytes, a CRC cut short.
  for (const length of [4, stride + 3, stride + 4]) assert.throws(call(0, buffer, 0, length, blockBytes), RangeError, `layout ${length}`);
  // A detached buffer has no bytes.
  const detached = new Uint8Array(new ArrayBuffer(stride));
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  assert.throws(call(0, detached, 0, stride, blockBytes), RangeError);
  assert.throws(() => (firstBadBlock as (...a: unknown[]) => unknown)(buffer), TypeError);
  assert.throws(() => firstBadBlock(new Uint8Array(3), blockBytes), RangeError);
  assert.throws(() => firstBadBlock(buffer, 0), RangeError);
});
