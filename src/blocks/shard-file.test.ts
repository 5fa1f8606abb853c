// ShardWriter's drive calls per shard file (issue 17), that what it writes reads back verified, and
// ShardReader's gathered reads: a range as one piece, every block and checksum still checked.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DriveIo } from './drive-io.js';
import { newBlockId } from './ids.js';
import { ShardReader, ShardWriter } from './shard-file.js';
import { blockFileOffset } from './shard-format.js';
import { flipByte, tempDrives } from './test-helpers.js';

/** A DriveIo that counts the calls run through it. */
class CountingIo extends DriveIo {
  runs = 0;
  override run<T>(call: () => Promise<T>, late?: (value: T) => void, steps?: number): Promise<T> {
    this.runs++;
    return super.run(call, late, steps);
  }
}

let dirs: Awaited<ReturnType<typeof tempDrives>>;
let dir: string;
before(async () => {
  dirs = await tempDrives(1);
  dir = join(dirs.paths[0]!, 'shards');
  await mkdir(dir, { recursive: true });
});
after(() => dirs.cleanup());

const blockBytes = 1000;

async function writeAndRead(pieces: Buffer[], lastFlag: boolean): Promise<{ runs: number }> {
  const io = new CountingIo(dir, { timeoutMs: 5000, inFlightMax: 4 });
  const blockId = newBlockId();
  const finalPath = join(dir, `${blockId}.0`);
  const writer = await ShardWriter.create(io, { tmpPath: `${finalPath}.tmp.1`, finalPath, blockId, shardIndex: 0, blockBytes });
  for (const [i, piece] of pieces.entries()) await writer.append(piece, { last: lastFlag && i === pieces.length - 1 });
  await writer.commit();
  const runs = io.runs;
  const data = Buffer.concat(pieces);
  const reader = await ShardReader.open(io, finalPath, { blockId, shardIndex: 0, shardBytes: data.length });
  try {
    assert.ok((await reader.read(0, data.length)).equals(data));
  } finally {
    await reader.close();
  }
  assert.deepEqual((await readdir(dir)).filter((name) => name.includes('.tmp.')), [], 'no tmp file is left');
  return { runs };
}

test('ShardWriter - a shard written in one last append takes three drive calls: open, one writev, the commit', async () => {
  assert.equal((await writeAndRead([randomBytes(2 * blockBytes)], true)).runs, 3);
  assert.equal((await writeAndRead([randomBytes(2 * blockBytes + 17)], true)).runs, 3, 'a partial checksum block goes out with it');
});

test('ShardWriter - appends without a last flag, or several, still read back verified', async () => {
  assert.equal((await writeAndRead([randomBytes(1500), randomBytes(700)], false)).runs, 5, 'open, two writevs, the tail at commit, the commit');
  assert.equal((await writeAndRead([randomBytes(1500), randomBytes(700)], true)).runs, 4, 'the tail goes with the last append, the header at commit');
  await writeAndRead([randomBytes(blockBytes)], false);
});

/** A committed shard of `data` in blocks of `bytesPerBlock`, and its path. */
async function writtenShard(io: DriveIo, data: Buffer, bytesPerBlock: number): Promise<{ blockId: string; path: string }> {
  const blockId = newBlockId();
  const path = join(dir, `${blockId}.0`);
  const writer = await ShardWriter.create(io, { tmpPath: `${path}.tmp.1`, finalPath: path, blockId, shardIndex: 0, blockBytes: bytesPerBlock });
  await writer.append(data, { last: true });
  await writer.commit();
  return { blockId, path };
}

test('ShardReader - a range over many blocks comes back as one piece of the right bytes', async () => {
  const io = new DriveIo(dir, { timeoutMs: 5000, inFlightMax: 4 });
  const data = randomBytes(16 * blockBytes + 321);
  const { blockId, path } = await writtenShard(io, data, blockBytes);
  const reader = await ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  try {
    for (const [start, end] of [[0, data.length], [1, 999], [999, 1001], [3 * blockBytes - 5, 16 * blockBytes + 7], [16 * blockBytes, data.length]] as const) {
      const pieces = await reader.readPieces(start, end);
      assert.equal(pieces.length, 1, `one piece for [${start}, ${end})`);
      assert.ok(pieces[0]!.equals(data.subarray(start, end)), `the bytes of [${start}, ${end})`);
    }
  } finally {
    await reader.close();
  }
});

test('ShardReader - rot in a block or in its checksum fails a read across more blocks than one preadv takes', async () => {
  const io = new DriveIo(dir, { timeoutMs: 5000, inFlightMax: 4 });
  const small = 100; // 600 blocks: more than one preadv's 256, whose iovec list would otherwise pass IOV_MAX
  const data = randomBytes(600 * small - 30);
  const { blockId, path } = await writtenShard(io, data, small);
  const open = () => ShardReader.open(io, path, { blockId, shardIndex: 0, shardBytes: data.length });
  const corrupt = (block: number) => (err: Error & { code?: string }) => err.code === 'ERR_SHARD_CORRUPT' && err.message.includes(`block ${block} `);
  let reader = await open();
  assert.ok((await reader.read(0, data.length)).equals(data));
  await reader.close();

  await flipByte(path, blockFileOffset(550, small) + 7); // data of block 550, in the third preadv
  reader = await open();
  await assert.rejects(reader.read(0, data.length), corrupt(550));
  assert.ok((await reader.read(0, 550 * small)).equals(data.subarray(0, 550 * small)), 'the blocks before it still read');
  await reader.close();
  await flipByte(path, blockFileOffset(550, small) + 7);

  await flipByte(path, blockFileOffset(300, small) + small + 1); // the checksum of block 300
  reader = await open();
  await assert.rejects(reader.read(299 * small, 301 * small), corrupt(300));
  await assert.rejects(reader.read(0, data.length), corrupt(300));
  await reader.close();
});
