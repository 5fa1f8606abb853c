// Pack files of small shards (issue 17): round trips, bitrot, the file fallback, two instances on one root,
// the inventory union, delete and compaction, TESSERA_PACKS=off, the page cache, and direct writes.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { isStoreError } from '../util/errors.js';
import { DriveIo } from './drive-io.js';
import { LocalDrive } from './drive.js';
import { newBlockId } from './ids.js';
import { packStaleMs, shardBlockBytes } from './limits.js';
import { PackStore } from './pack-store.js';
import { ShardWriter } from './shard-file.js';
import { shardFileBytes } from './shard-format.js';
import { flipByte, residentBytes, tempDrives } from './test-helpers.js';

/** Writes one shard as the block writer hands a whole stripe over: one append with `last`. */
async function putWhole(drive: LocalDrive, blockId: string, shardIndex: number, data: Buffer): Promise<void> {
  const writer = await drive.createShard({ blockId, shardIndex }, { blockBytes: shardBlockBytes });
  await writer.append(data, { last: true });
  await writer.commit();
}

async function readAll(drive: LocalDrive, blockId: string, shardIndex: number, shardBytes: number): Promise<Buffer> {
  const reader = await drive.openShard({ blockId, shardIndex }, { shardBytes });
  try {
    return Buffer.concat(await reader.readPieces(0, shardBytes));
  } finally {
    await reader.close();
  }
}

async function packFiles(root: string): Promise<string[]> {
  return (await readdir(join(root, 'packs'))).filter((name) => name.endsWith('.pack')).sort();
}

async function shardFilesOf(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else out.push(entry.name);
    }
  };
  await walk(join(root, 'shards'));
  return out;
}

describe('LocalDrive packs', () => {
  let dirs: Awaited<ReturnType<typeof tempDrives>>;
  const opened: LocalDrive[] = [];
  let next = 0;

  before(async () => {
    dirs = await tempDrives(16);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((d) => d.close()));
  });
  after(() => dirs.cleanup());

  async function freshDrive(options: { bytesTarget?: number } = {}): Promise<LocalDrive> {
    const root = dirs.paths[next++] as string;
    if (options.bytesTarget) process.env.TESSERA_PACK_BYTES_TARGET = String(options.bytesTarget);
    try {
      const drive = await LocalDrive.open(root, { create: true });
      opened.push(drive);
      return drive;
    } finally {
      delete process.env.TESSERA_PACK_BYTES_TARGET;
    }
  }

  test('pack - a whole small shard round-trips verified from a pack record, with no shard file', async () => {
    const drive = await freshDrive();
    const id = newBlockId();
    const data = randomBytes(3 * shardBlockBytes + 77);
    await putWhole(drive, id, 1, data);
    assert.deepEqual(await readAll(drive, id, 1, data.length), data);
    assert.deepEqual(await shardFilesOf(drive.root), []);
    const [pack] = await packFiles(drive.root);
    assert.ok(pack);
    // A direct write pads the record to 4 KiB with zeros (the space is the record's, as the next starts aligned).
    const recordBytes = shardFileBytes(data.length, shardBlockBytes);
    assert.equal((await stat(join(drive.root, 'packs', pack))).size, PackStore.directWrites ? Math.ceil(recordBytes / 4096) * 4096 : recordBytes);
    const stored = await drive.statShard({ blockId: id, shardIndex: 1 });
    assert.equal(stored?.bytes, shardFileBytes(data.length, shardBlockBytes));
    // Concurrent writers share groups and read back their own bytes at 4 KiB-aligned offsets.
    const many = Array.from({ length: 24 }, () => ({ id: newBlockId(), data: randomBytes(1 + Math.floor(Math.random() * 200_000)) }));
    await Promise.all(many.map((m) => putWhole(drive, m.id, 0, m.data)));
    for (const m of many) assert.deepEqual(await readAll(drive, m.id, 0, m.data.length), m.data);
  });

  test('pack - a flipped byte in a packed record fails the read ERR_SHARD_CORRUPT', async () => {
    const drive = await freshDrive();
    const before = { id: newBlockId(), data: randomBytes(4096) };
    const victim = { id: newBlockId(), data: randomBytes(2 * shardBlockBytes) };
    await putWhole(drive, before.id, 0, before.data);
    await putWhole(drive, victim.id, 0, victim.data);
    const [pack] = await packFiles(drive.root);
    // The victim's record starts at the next 4 KiB boundary after the first record; its second block's data:
    const recordStart = Math.ceil(shardFileBytes(before.data.length, shardBlockBytes) / 4096) * 4096;
    await flipByte(join(drive.root, 'packs', pack!), recordStart + 48 + shardBlockBytes + 4 + 100);
    await assert.rejects(readAll(drive, victim.id, 0, victim.data.length), (err) => isStoreError(err, 'ERR_SHARD_CORRUPT'));
    assert.deepEqual(await readAll(drive, before.id, 0, before.data.length), before.data);
  });

  test('pack - a second append, or a shard above packShardBytesMax, goes to a file', async () => {
    const drive = await freshDrive();
    const id = newBlockId();
    const data = randomBytes(100_000);
    const writer = await drive.createShard({ blockId: id, shardIndex: 3 }, { blockBytes: shardBlockBytes });
    await writer.append(data.subarray(0, 5000));
    await writer.append(data.subarray(5000), { last: true });
    await writer.commit();
    assert.deepEqual(await shardFilesOf(drive.root), [`${id}.3`]);
    const big = { id: newBlockId(), data: randomBytes(1024 * 1024 + 1) };
    await putWhole(drive, big.id, 0, big.data);
    assert.equal((await shardFilesOf(drive.root)).length, 2);
    assert.deepEqual(await packFiles(drive.root), []);
    assert.deepEqual(await readAll(drive, id, 3, data.length), data);
    assert.deepEqual(await readAll(drive, big.id, 0, big.data.length), big.data);
  });

  test('pack - two drive instances on one root write at once and read each other right after commit', async () => {
    const first = await freshDrive();
    const second = await LocalDrive.open(first.root, { create: false });
    opened.push(second);
    const shards = Array.from({ length: 20 }, (_, i) => ({ id: newBlockId(), data: randomBytes(20_000 + i), by: i % 2 === 0 ? first : second }));
    await Promise.all(shards.map((s) => putWhole(s.by, s.id, 0, s.data)));
    for (const s of shards) {
      const other = s.by === first ? second : first;
      assert.deepEqual(await readAll(other, s.id, 0, s.data.length), s.data);
    }
    assert.equal((await packFiles(first.root)).length, 2, 'each instance appends to a pack of its own');
  });

  test('pack - inventory lists files and rows once each, sorted, and a pack commit drops an older file of the shard', async () => {
    const drive = await freshDrive();
    const id = newBlockId();
    const data = randomBytes(10_000);
    // A file first (two appends), then the same shard rewritten whole (as heal does): one entry, the packed one.
    const writer = await drive.createShard({ blockId: id, shardIndex: 0 }, { blockBytes: shardBlockBytes });
    await writer.append(data.subarray(0, 10));
    await writer.append(data.subarray(10));
    await writer.commit();
    await putWhole(drive, id, 0, data);
    await putWhole(drive, id, 1, data);
    const prefixes = await drive.listPrefixes(undefined);
    assert.deepEqual(prefixes, [id.slice(0, 2)]);
    assert.deepEqual(await drive.listPrefixes(id.slice(0, 2)), [id.slice(2, 4)]);
    const listed = await drive.listShards(id.slice(0, 2), id.slice(2, 4));
    assert.deepEqual(
      listed.map((s) => [s.blockId, s.shardIndex, s.tmp]),
      [
        [id, 0, false],
        [id, 1, false],
      ],
    );
    assert.ok(listed.every((s) => s.mtimeMs > Date.now() - 60_000 && s.bytes === shardFileBytes(data.length, shardBlockBytes)));
    // The shadowed file goes in the background, after the commit.
    for (let i = 0; i < 50 && (await shardFilesOf(drive.root)).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(await shardFilesOf(drive.root), []);
    // A file commit of a packed shard removes the row: the file is then what reads and lists see.
    const again = await drive.createShard({ blockId: id, shardIndex: 1 }, { blockBytes: shardBlockBytes });
    await again.append(data.subarray(0, 10));
    await again.append(data.subarray(10));
    await again.commit();
    assert.equal(drive.packs.lookup({ blockId: id, shardIndex: 1 }), undefined);
    assert.deepEqual(await readAll(drive, id, 1, data.length), data);
    assert.equal(await drive.deleteBlock(id), 2);
    assert.deepEqual(await drive.listShards(id.slice(0, 2), id.slice(2, 4)), []);
    assert.equal(await drive.statShard({ blockId: id, shardIndex: 0 }), undefined);
  });

  test('pack - deletes, then compaction reclaims the space and keeps live shards readable, a delete racing the copy wins', async () => {
    const drive = await freshDrive({ bytesTarget: 256 * 1024 });
    const shards = Array.from({ length: 40 }, () => ({ id: newBlockId(), data: randomBytes(30_000) }));
    for (const s of shards) await putWhole(drive, s.id, 0, s.data);
    const packsBefore = await packFiles(drive.root);
    assert.ok(packsBefore.length >= 4, `expected several packs, got ${packsBefore.length}`);
    const bytesOf = async (names: string[]) => (await Promise.all(names.map((n) => stat(join(drive.root, 'packs', n))))).reduce((sum, s) => sum + s.size, 0);
    const bytesBefore = await bytesOf(packsBefore);
    // Delete three of every four: every sealed pack falls below half live.
    const live = shards.filter((_, i) => i % 4 === 0);
    for (const [i, s] of shards.entries()) if (i % 4 !== 0) await drive.deleteShard({ blockId: s.id, shardIndex: 0 });
    // Delete one live shard while its pack is being compacted: wrap the group so the delete lands between copy and repoint.
    const racer = live[1]!;
    const packs = drive.packs as unknown as { commit: (t: unknown) => Promise<void> };
    const commit = packs.commit.bind(drive.packs);
    let raced = false;
    packs.commit = async (ticket) => {
      const change = (ticket as { change: { kind: string; row: { blockId: string } } }).change;
      if (!raced && change.kind === 'move' && change.row.blockId === racer.id) {
        raced = true;
        await drive.deleteShard({ blockId: racer.id, shardIndex: 0 });
      }
      return commit(ticket);
    };
    for (let i = 0; i < 20; i++) await drive.packs.maintenanceStep();
    packs.commit = commit;
    assert.ok(raced, 'the compaction copied the racing shard');
    assert.equal(drive.packs.lookup({ blockId: racer.id, shardIndex: 0 }), undefined, 'the delete won over the repoint');
    for (const s of live) if (s !== racer) assert.deepEqual(await readAll(drive, s.id, 0, s.data.length), s.data);
    const packsAfter = await packFiles(drive.root);
    assert.ok((await bytesOf(packsAfter)) < bytesBefore / 2, `packs ${packsBefore.length} → ${packsAfter.length}`);
    // Delete the rest: once sealed, every pack goes.
    for (const s of live) await drive.deleteShard({ blockId: s.id, shardIndex: 0 });
    await drive.close();
    const reopened = await LocalDrive.open(drive.root, { create: false });
    opened.push(reopened);
    for (let i = 0; i < 3; i++) await reopened.packs.maintenanceStep();
    assert.deepEqual(await packFiles(drive.root), []);
  });

  test('pack - a drive whose directory was moved away fails the commit ERR_SHARD_MISSING and acknowledges nothing', async () => {
    const drive = await freshDrive();
    await putWhole(drive, newBlockId(), 0, randomBytes(1000)); // the open pack exists, its descriptor too
    const id = newBlockId();
    const writer = await drive.createShard({ blockId: id, shardIndex: 0 }, { blockBytes: shardBlockBytes });
    await writer.append(randomBytes(5000), { last: true }); // written through the open descriptor
    await rename(drive.root, `${drive.root}.away`);
    try {
      await assert.rejects(writer.commit(), (err) => isStoreError(err, 'ERR_SHARD_MISSING'));
      await writer.abort();
    } finally {
      await rename(`${drive.root}.away`, drive.root);
    }
    assert.equal(drive.packs.lookup({ blockId: id, shardIndex: 0 }), undefined, 'no row for a commit that failed');
  });

  test('pack - a drive whose pack was deleted under it fails the commit ERR_SHARD_MISSING (the file has no name) and acknowledges nothing', async () => {
    const drive = await freshDrive();
    await putWhole(drive, newBlockId(), 0, randomBytes(1000));
    const id = newBlockId();
    const writer = await drive.createShard({ blockId: id, shardIndex: 0 }, { blockBytes: shardBlockBytes });
    await writer.append(randomBytes(5000), { last: true });
    const [pack] = await packFiles(drive.root);
    await unlink(join(drive.root, 'packs', pack!));
    await assert.rejects(writer.commit(), (err) => isStoreError(err, 'ERR_SHARD_MISSING') && /the file was deleted/.test((err as Error).message));
    await writer.abort();
    assert.equal(drive.packs.lookup({ blockId: id, shardIndex: 0 }), undefined, 'no row for a commit that failed');
  });

  test('pack - an open pack its owner stopped touching is sealed by another instance, and the owner then starts a new one', async () => {
    const owner = await freshDrive();
    const io = new DriveIo(owner.root, { timeoutMs: 5000, inFlightMax: 4 });
    const later = await PackStore.open(io, owner.root, { nowMs: () => Date.now() + packStaleMs + 60_000 });
    try {
      const first = { id: newBlockId(), data: randomBytes(3000) };
      await putWhole(owner, first.id, 0, first.data);
      const before = owner.packs.lookup({ blockId: first.id, shardIndex: 0 })!.pack;
      await later.maintenanceStep(); // seals the "crashed" owner's pack
      // The owner notices at its next touch (every 30 s; here its clock jumps past that) and appends elsewhere.
      const ownerPacks = owner.packs as unknown as { nowMs: () => number };
      ownerPacks.nowMs = () => Date.now() + 60_000;
      await owner.packs.maintenanceStep();
      const second = { id: newBlockId(), data: randomBytes(3000) };
      await putWhole(owner, second.id, 0, second.data);
      assert.notEqual(owner.packs.lookup({ blockId: second.id, shardIndex: 0 })!.pack, before);
      assert.deepEqual(await readAll(owner, first.id, 0, first.data.length), first.data);
      assert.deepEqual(await readAll(owner, second.id, 0, second.data.length), second.data);
    } finally {
      await later.close();
    }
  });

  test('pack - TESSERA_PACKS=off writes files, and packed shards still read', async () => {
    const drive = await freshDrive();
    const packed = { id: newBlockId(), data: randomBytes(5000) };
    await putWhole(drive, packed.id, 0, packed.data);
    process.env.TESSERA_PACKS = 'off';
    let off: LocalDrive;
    try {
      off = await LocalDrive.open(drive.root, { create: false });
      opened.push(off);
    } finally {
      delete process.env.TESSERA_PACKS;
    }
    const plain = { id: newBlockId(), data: randomBytes(5000) };
    await putWhole(off, plain.id, 0, plain.data);
    assert.deepEqual(await shardFilesOf(drive.root), [`${plain.id}.0`]);
    assert.deepEqual(await readAll(off, packed.id, 0, packed.data.length), packed.data);
    assert.deepEqual(await readAll(off, plain.id, 0, plain.data.length), plain.data);
  });

  /** Runs `work` with pack writes through the page cache (no direct I/O) and with the drop addon as given. */
  async function withWrites<T>(options: { direct: boolean; drop: boolean }, work: () => Promise<T>): Promise<T> {
    const saved = { direct: PackStore.directWrites, drop: ShardWriter.fileSync };
    if (!options.direct) PackStore.directWrites = undefined;
    if (!options.drop) ShardWriter.fileSync = undefined;
    try {
      return await work();
    } finally {
      PackStore.directWrites = saved.direct;
      ShardWriter.fileSync = saved.drop;
    }
  }

  test('pack - a group written through the page cache leaves it once durable when the sync addon is there, and stays without it', async (t) => {
    if (!ShardWriter.fileSync && process.env.CI !== 'true') return t.skip('the file sync addon is not loaded');
    const drive = await withWrites({ direct: false, drop: true }, () => freshDrive());
    const resident = async () => residentBytes(join(drive.root, 'packs', (await packFiles(drive.root))[0]!));
    const first = { id: newBlockId(), data: randomBytes(512 * 1024) };
    await withWrites({ direct: false, drop: true }, () => putWhole(drive, first.id, 0, first.data));
    assert.equal(await resident(), 0, 'the record written by the group was dropped');
    await withWrites({ direct: false, drop: false }, () => putWhole(drive, newBlockId(), 0, randomBytes(512 * 1024)));
    assert.ok((await resident()) >= 512 * 1024, 'the control: a plain fdatasync keeps the pages');
    assert.deepEqual(await readAll(drive, first.id, 0, first.data.length), first.data);
  });

  test('pack - direct writes put records on the drive past the page cache, and they read back verified', async (t) => {
    if (!PackStore.directWrites && process.env.CI !== 'true') return t.skip('the file sync addon is not loaded');
    const drive = await freshDrive();
    const resident = async () => residentBytes(join(drive.root, 'packs', (await packFiles(drive.root))[0]!));
    // Without the drop after the sync, only direct I/O keeps the records out of the cache.
    const records = Array.from({ length: 6 }, () => ({ id: newBlockId(), data: randomBytes(1 + Math.floor(Math.random() * 300_000)) }));
    await withWrites({ direct: true, drop: false }, () => Promise.all(records.map((r) => putWhole(drive, r.id, 2, r.data))));
    assert.equal(await resident(), 0, 'no page of the pack entered the cache');
    for (const r of records) {
      const row = drive.packs.lookup({ blockId: r.id, shardIndex: 2 })!;
      assert.equal(row.offset % 4096, 0, 'records start 4 KiB aligned');
      assert.deepEqual(await readAll(drive, r.id, 2, r.data.length), r.data);
    }
  });

  test('pack - a file system that refuses a direct write (EINVAL) gets the record through the page cache, and the pack stays so', async () => {
    const real = PackStore.directWrites;
    let directCalls = 0;
    const flags: boolean[] = [];
    // The refusal itself, as a file system without direct I/O for this file would answer: the rest is real.
    PackStore.directWrites = {
      syncDropping: (...args) => (real ?? ShardWriter.fileSync)!.syncDropping(...args),
      setDirect: (_fd, on) => (flags.push(on), true),
      writeDirect: () => {
        directCalls++;
        return Promise.reject(Object.assign(new Error('EINVAL: invalid argument, pwrite'), { code: 'EINVAL', syscall: 'pwrite' }));
      },
    };
    try {
      const drive = await freshDrive();
      const shards = Array.from({ length: 3 }, () => ({ id: newBlockId(), data: randomBytes(20_000) }));
      for (const shard of shards) await putWhole(drive, shard.id, 0, shard.data);
      assert.equal(directCalls, 1, 'after the refusal the pack is written through the page cache');
      assert.deepEqual(flags, [true, false], 'O_DIRECT was set, then cleared');
      for (const shard of shards) assert.deepEqual(await readAll(drive, shard.id, 0, shard.data.length), shard.data);
    } finally {
      PackStore.directWrites = real;
    }
  });
});
