// ShardWriter's drive calls per shard file (issue 17), and that what it writes reads back verified, with
// direct I/O byte for byte what it writes through the page cache.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DriveIo } from './drive-io.js';
import { newBlockId } from './ids.js';
import { openForRead, ShardReader, ShardWriter } from './shard-file.js';
import type { FileSyncBinding } from './native-file-sync.js';
import { residentBytes, suiteShardsDir } from './test-helpers.js';

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

/** Writes shard 0 of `blockId` to `finalPath` as the given appends, the last one flagged when `lastFlag`. */
async function writeShard(io: DriveIo, blockId: string, finalPath: string, pieces: Buffer[], lastFlag: boolean): Promise<void> {
  const writer = await ShardWriter.create(io, { tmpPath: `${finalPath}.tmp.1`, finalPath, blockId, shardIndex: 0, blockBytes });
  for (const [i, piece] of pieces.entries()) await writer.append(piece, { last: lastFlag && i === pieces.length - 1 });
  await writer.commit();
}

async function assertReadsBack(io: DriveIo, blockId: string, finalPath: string, data: Buffer): Promise<void> {
  const reader = await ShardReader.open(io, finalPath, { blockId, shardIndex: 0, shardBytes: data.length });
  try {
    assert.ok((await reader.read(0, data.length)).equals(data));
  } finally {
    await reader.close();
  }
}

async function writeAndRead(pieces: Buffer[], lastFlag: boolean): Promise<{ runs: number }> {
  const io = new CountingIo(dir, { timeoutMs: 5000, inFlightMax: 4 });
  const blockId = newBlockId();
  const finalPath = join(dir, `${blockId}.0`);
  await writeShard(io, blockId, finalPath, pieces, lastFlag);
  const runs = io.runs;
  await assertReadsBack(io, blockId, finalPath, Buffer.concat(pieces));
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

/** Writes one shard (fixed id) with `writes` as the direct writes and no drop after the sync, appending `pieces`; returns the file's bytes. */
async function shardFile(writes: FileSyncBinding | undefined, blockId: string, pieces: Buffer[], lastFlag: boolean): Promise<{ bytes: Buffer; resident: number }> {
  const saved = { direct: ShardWriter.directWrites, drop: ShardWriter.fileSync };
  ShardWriter.directWrites = writes;
  ShardWriter.fileSync = undefined; // so what stays cached is what the writes left there
  try {
    const io = new DriveIo(dir, { timeoutMs: 5000, inFlightMax: 4 });
    const finalPath = join(dir, `${blockId}.${writes ? 'direct' : 'cached'}`);
    await writeShard(io, blockId, finalPath, pieces, lastFlag);
    const resident = residentBytes(finalPath); // before the read below caches it
    await assertReadsBack(io, blockId, finalPath, Buffer.concat(pieces));
    return { bytes: await readFile(finalPath), resident };
  } finally {
    ShardWriter.directWrites = saved.direct;
    ShardWriter.fileSync = saved.drop;
  }
}

const direct = ShardWriter.directWrites;
const skipDirect = direct || process.env.CI === 'true' ? false : 'the file sync addon is not loaded';

test('ShardWriter - with direct I/O a shard file is byte for byte the one written through the page cache', { skip: skipDirect }, async () => {
  // Appends across 4 KiB boundaries and checksum blocks, in one piece or many, the last flag or not, and the empty shard.
  const cases: Buffer[][] = [
    [],
    [randomBytes(1)],
    [randomBytes(4048)],
    [randomBytes(4049)],
    [randomBytes(3 * 4096 + 5)],
    Array.from({ length: 9 }, () => randomBytes(1 + Math.floor(Math.random() * 9000))),
    [randomBytes(100), randomBytes(5000), randomBytes(4096), randomBytes(1), randomBytes(70_000)],
  ];
  for (const pieces of cases) {
    for (const lastFlag of [false, true]) {
      const blockId = newBlockId();
      const cached = await shardFile(undefined, blockId, pieces, lastFlag);
      const written = await shardFile(direct, blockId, pieces, lastFlag);
      assert.ok(written.bytes.equals(cached.bytes), `${pieces.map((p) => p.length).join('+')} bytes, last ${lastFlag}: the same file`);
      assert.equal(written.resident, 0, 'a direct write leaves no page cached');
      assert.ok(cached.resident > 0, 'the control: a write through the page cache leaves its pages');
    }
  }
});

test('ShardWriter - a direct write refused with EINVAL goes on through the page cache, and the file is still exact', { skip: skipDirect }, async () => {
  let calls = 0;
  const flags: boolean[] = [];
  const refusing: FileSyncBinding = {
    syncDropping: (...args) => direct!.syncDropping(...args),
    setDirect: (fd, on) => (flags.push(on), direct!.setDirect(fd, on)),
    // The second write is refused, as a file system could refuse it: the first one went out padded.
    writeDirect: (fd, pieces, position) =>
      ++calls === 2 ? Promise.reject(Object.assign(new Error('EINVAL: invalid argument, pwrite'), { code: 'EINVAL', syscall: 'pwrite' })) : direct!.writeDirect(fd, pieces, position),
  };
  const blockId = newBlockId();
  const pieces = [randomBytes(5000), randomBytes(3000), randomBytes(9000)];
  const cached = await shardFile(undefined, blockId, pieces, false);
  const written = await shardFile(refusing, blockId, pieces, false);
  assert.equal(calls, 2, 'no direct write after the refusal');
  assert.deepEqual(flags, [true, false]);
  assert.ok(written.bytes.equals(cached.bytes), 'the padding of the direct write was overwritten or truncated');
});

test('openForRead - shard and pack files are read with O_NOATIME, so a read never writes the inode', async () => {
  const path = join(dir, `noatime-${newBlockId()}`);
  await writeFile(path, 'bytes');
  const handle = await openForRead(path);
  try {
    const flags = /^flags:\s+([0-7]+)$/m.exec(await readFile(`/proc/self/fdinfo/${handle.fd}`, 'utf8'));
    const noAtime = 0o1000000; // O_NOATIME on Linux
    assert.ok(flags && (Number.parseInt(flags[1]!, 8) & noAtime) !== 0, `flags ${flags?.[1]}`);
    assert.equal((await handle.read(Buffer.alloc(5), 0, 5, 0)).bytesRead, 5);
  } finally {
    await handle.close();
  }
});
