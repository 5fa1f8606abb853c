import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32 } from '@node-rs/crc32';
import { BufferPool } from './buffer-pool.js';
import { DriveIo } from './drive-io.js';
import { ShardReader, ShardWriter } from './shard-file.js';
import { blockChecksumBytes, blockFileOffset, shardHeaderBytes } from './shard-format.js';
import { verifyOffThread, verifyThreadBytesMin } from './verify-thread.js';

const blockBytes = 64 * 1024;
const testBlockId = 'ab'.repeat(16);

/** `count` checksummed blocks in shared memory, the last one `lastBlockBytes` long. */
function sharedBlocks(count: number, lastBlockBytes: number): Buffer {
  const bytes = Buffer.from(new SharedArrayBuffer((count - 1) * blockBytes + lastBlockBytes + count * blockChecksumBytes));
  let offset = 0;
  for (let block = 0; block < count; block++) {
    const data = block === count - 1 ? lastBlockBytes : blockBytes;
    randomBytes(data).copy(bytes, offset);
    bytes.writeUInt32LE(crc32(bytes.subarray(offset, offset + data)), offset + data);
    offset += data + blockChecksumBytes;
  }
  return bytes;
}

test('verifyOffThread - finds the first block whose checksum fails, or none', async () => {
  const bytes = sharedBlocks(5, 1000);
  const blocks = { bytes, count: 5, blockBytes, lastBlockBytes: 1000 };
  assert.equal(await verifyOffThread(blocks), -1);
  bytes[2 * (blockBytes + blockChecksumBytes) + 17]! ^= 1; // one bit of block 2
  bytes[4 * (blockBytes + blockChecksumBytes) + 3]! ^= 1; // and of the last block
  assert.equal(await verifyOffThread(blocks), 2);
  bytes[2 * (blockBytes + blockChecksumBytes) + 17]! ^= 1;
  assert.equal(await verifyOffThread(blocks), 4);
});

test('verifyOffThread - refuses bytes outside shared memory and a layout that does not fit them', () => {
  const bytes = sharedBlocks(2, blockBytes);
  assert.throws(() => verifyOffThread({ bytes: Buffer.from(bytes), count: 2, blockBytes, lastBlockBytes: blockBytes }), TypeError);
  assert.throws(() => verifyOffThread({ bytes, count: 3, blockBytes, lastBlockBytes: blockBytes }), RangeError);
});

test('ShardReader - a pooled read in shared memory is verified on the thread when the native read is off: right bytes, and rot is caught', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-verify-'));
  const nativeRead = ShardReader.nativeRead;
  ShardReader.nativeRead = undefined; // the fs read and this thread: what runs without the addon
  try {
    const path = join(dir, 'shard');
    const data = randomBytes(20 * blockBytes + 123);
    const io = new DriveIo(dir, { timeoutMs: 60_000, inFlightMax: 4 });
    const writer = await ShardWriter.create(io, { tmpPath: `${path}.tmp`, finalPath: path, blockId: testBlockId, shardIndex: 0, blockBytes });
    await writer.append(data);
    await writer.commit();
    const pool = new BufferPool({ classBytes: blockBytes + blockChecksumBytes, classesMax: 32, idleBytesMax: 0, shared: true });
    const reader = await ShardReader.open(io, path, { blockId: testBlockId, shardIndex: 0, shardBytes: data.length });
    const start = 3 * blockBytes + 5;
    const { pieces, buffer } = await reader.readPooled(start, data.length, pool);
    assert.ok(buffer.buffer instanceof SharedArrayBuffer && buffer.length >= verifyThreadBytesMin, 'the read took the thread path');
    assert.deepEqual(Buffer.concat(pieces), data.subarray(start));
    await reader.close();

    // Rot one byte of block 7's data on disk; a read across it must fail, one before it must not.
    const file = await open(path, 'r+');
    await file.write(Buffer.from([data[7 * blockBytes + 9]! ^ 0xff]), 0, 1, blockFileOffset(7, blockBytes) + 9);
    await file.close();
    assert.ok(blockFileOffset(7, blockBytes) >= shardHeaderBytes);
    const again = await ShardReader.open(io, path, { blockId: testBlockId, shardIndex: 0, shardBytes: data.length });
    await assert.rejects(again.readPooled(0, data.length, pool), (err: Error & { code?: string }) => err.code === 'ERR_SHARD_CORRUPT' && /block 7/.test(err.message));
    const before = await again.readPooled(0, 7 * blockBytes, pool);
    assert.deepEqual(Buffer.concat(before.pieces), data.subarray(0, 7 * blockBytes));
    await again.close();
  } finally {
    ShardReader.nativeRead = nativeRead;
    await rm(dir, { recursive: true, force: true });
  }
});
