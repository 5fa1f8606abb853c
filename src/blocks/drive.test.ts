import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AssertionError } from '../util/assert.js';
import { isStoreError } from '../util/errors.js';
import { LocalDrive } from './drive.js';
import { newBlockId } from './ids.js';
import { shardBlockBytes } from './limits.js';
import { shardFileBytes } from './shard-format.js';
import { flipByte, tempDrives } from './test-helpers.js';

describe('LocalDrive', () => {
  let dirs: Awaited<ReturnType<typeof tempDrives>>;
  let drive: LocalDrive;

  before(async () => {
    dirs = await tempDrives(1);
    drive = await LocalDrive.open(dirs.paths[0] as string, { create: true });
  });
  after(() => dirs.cleanup());

  async function writeShard(id: string, index: number, data: Buffer): Promise<void> {
    const writer = await drive.createShard({ blockId: id, shardIndex: index }, { blockBytes: shardBlockBytes });
    await writer.append(data.subarray(0, 1000));
    await writer.append(data.subarray(1000));
    await writer.commit();
  }

  /** Verified shard bytes [start, end) through the ShardStore calls the block reader uses. */
  async function readRange(options: { blockId: string; shardIndex: number; shardBytes: number; start: number; end: number }): Promise<Buffer> {
    const { blockId, shardIndex, shardBytes, start, end } = options;
    const reader = await drive.openShard({ blockId, shardIndex }, { shardBytes });
    try {
      return Buffer.concat(await reader.readPieces(start, end));
    } finally {
      await reader.close();
    }
  }

  test('open - writes drive.json and reopens with the same id', async () => {
    const identity = JSON.parse(await readFile(join(drive.root, 'drive.json'), 'utf8')) as { driveId: string };
    assert.equal(identity.driveId, drive.id);
    const again = await LocalDrive.open(drive.root, { create: false });
    assert.equal(again.id, drive.id);
    assert.equal(await drive.state(), 'ok');
  });

  test('shard file - header, data and one checksum per block on disk', async () => {
    const id = newBlockId();
    const data = randomBytes(3 * shardBlockBytes + 5);
    await writeShard(id, 2, data);
    const info = await stat(drive.shardPath(id, 2));
    assert.equal(info.size, shardFileBytes(data.length, shardBlockBytes));
    assert.equal(drive.shardPath(id, 2), join(drive.root, 'shards', id.slice(0, 2), id.slice(2, 4), `${id}.2`));
  });

  test('openShard - reads any verified range', async () => {
    const id = newBlockId();
    const data = randomBytes(2 * shardBlockBytes + 77);
    await writeShard(id, 0, data);
    for (const [start, end] of [[0, data.length], [shardBlockBytes - 3, shardBlockBytes + 3], [data.length - 1, data.length], [5, 5]] as const) {
      const got = await readRange({ blockId: id, shardIndex: 0, shardBytes: data.length, start, end });
      assert.deepEqual(got, data.subarray(start, end));
    }
  });

  test('openShard - ERR_SHARD_CORRUPT when a data byte or the header is flipped', async () => {
    const id = newBlockId();
    const data = randomBytes(1000);
    await writeShard(id, 1, data);
    await flipByte(drive.shardPath(id, 1), 60);
    const read = () => readRange({ blockId: id, shardIndex: 1, shardBytes: 1000, start: 0, end: 1000 });
    await assert.rejects(read(), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    await flipByte(drive.shardPath(id, 1), 60);
    await flipByte(drive.shardPath(id, 1), 9);
    await assert.rejects(read(), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
  });

  test('openShard - ERR_SHARD_CORRUPT when the shard has a different length than expected', async () => {
    const id = newBlockId();
    await writeShard(id, 0, randomBytes(2000));
    const read = readRange({ blockId: id, shardIndex: 0, shardBytes: 1999, start: 0, end: 10 });
    await assert.rejects(read, (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
  });

  test('createShard - writes again after a fan-out directory it already used was removed', async () => {
    const first = newBlockId();
    const second = `${first.slice(0, 4)}${newBlockId().slice(4)}`; // same shards/ab/cd directory
    const data = randomBytes(5000);
    await writeShard(first, 0, data);
    await rm(join(drive.root, 'shards', first.slice(0, 2)), { recursive: true });
    await writeShard(second, 0, data);
    assert.deepEqual(await readRange({ blockId: second, shardIndex: 0, shardBytes: data.length, start: 0, end: data.length }), data);
  });

  test('shardPath - asserts on ids that could escape the drive', () => {
    assert.throws(() => drive.shardPath('../x', 0), AssertionError);
    assert.throws(() => drive.shardPath(`${'a'.repeat(30)}/.`, 0), AssertionError);
    assert.throws(() => drive.shardPath(newBlockId(), -1), AssertionError);
  });

  test('walk - lists committed shards and leftover tmp files', async () => {
    const id = newBlockId();
    await writeShard(id, 3, randomBytes(10));
    const unfinished = await drive.createShard({ blockId: id, shardIndex: 4 }, { blockBytes: shardBlockBytes });
    await unfinished.append(randomBytes(10)); // the file is made at the first append (a whole shard would go to a pack)
    const found = [];
    for await (const file of drive.walk()) if (file.blockId === id) found.push(file);
    assert.deepEqual(found.map((f) => [f.shardIndex, f.tmp]).sort(), [[3, false], [4, true]]);
    assert.ok(found.every((f) => f.mtimeMs > 0 && f.bytes > 0 || f.tmp));
    await unfinished.abort();
  });

  test('state - missing once drive.json is deleted', async () => {
    const other = await tempDrives(1);
    const d = await LocalDrive.open(other.paths[0] as string, { create: true });
    await rm(join(d.root, 'drive.json'));
    assert.equal(await d.state(), 'missing');
    await rm(d.root, { recursive: true });
    assert.equal(await d.state(), 'missing');
    await other.cleanup();
  });
});
