// ShardWriter's drive calls per shard file (issue 17), and that what it writes reads back verified.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DriveIo } from './drive-io.js';
import { newBlockId } from './ids.js';
import { ShardReader, ShardWriter } from './shard-file.js';
import { suiteShardsDir } from './test-helpers.js';

/** A DriveIo that counts the calls run through it. */
class CountingIo extends DriveIo {
  runs = 0;
  override run<T>(call: () => Promise<T>, late?: (value: T) => void, steps?: number): Promise<T> {
    this.runs++;
    return super.run(call, late, steps);
  }
}

let dir: string;
suiteShardsDir((made) => (dir = made));

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
