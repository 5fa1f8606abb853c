// Helpers shared by the block layer's tests: temporary drive directories and stores, stream collection.
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, open, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before } from 'node:test';
import Database from 'better-sqlite3';
import { openBlockStore, type LocalBlockStore, type ShardDamage } from './index.js';

/** Makes `count` empty drive directories under one temp root; `cleanup` removes them all. */
export async function tempDrives(count: number): Promise<{ root: string; paths: string[]; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'tessera-blocks-'));
  const paths = Array.from({ length: count }, (_, i) => join(root, `d${i}`));
  return { root, paths, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface TempStore {
  drives: Awaited<ReturnType<typeof tempDrives>>;
  store: LocalBlockStore;
  /** Every damage report the store made, in order. */
  damage: ShardDamage[];
  /** Closes the store and removes its drives. */
  close(): Promise<void>;
}

/** A store over `count` fresh drives that records the damage it reports. */
export async function tempStore(count: number): Promise<TempStore> {
  const drives = await tempDrives(count);
  const damage: ShardDamage[] = [];
  const store = await openBlockStore({ drives: drives.paths, onDamage: (d) => damage.push(d) });
  return {
    drives,
    store,
    damage,
    close: async () => {
      await store.close();
      await drives.cleanup();
    },
  };
}

/** One tempStore for the enclosing suite: opened before its first test (handed to `opened`), closed after its last. */
export function suiteStore(count: number, opened: (fixture: TempStore) => void): void {
  let fixture: TempStore | undefined;
  before(async () => {
    fixture = await tempStore(count);
    opened(fixture);
  });
  after(() => fixture?.close());
}

/** One temporary drive's shards/ directory for the enclosing suite: made before its first test (handed to `made`), removed after its last. */
export function suiteShardsDir(made: (dir: string) => void): void {
  let drives: Awaited<ReturnType<typeof tempDrives>> | undefined;
  before(async () => {
    drives = await tempDrives(1);
    const dir = join(drives.paths[0]!, 'shards');
    await mkdir(dir, { recursive: true });
    made(dir);
  });
  after(() => drives?.cleanup());
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Yields `data` in pieces of `pieceBytes`, as a network body would arrive. */
export async function* piecesOf(data: Buffer, pieceBytes = 64 * 1024 + 7): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += pieceBytes) yield data.subarray(at, at + pieceBytes);
}

/** Path of shard `index` of block `id` on the drive at `drive`, as drive.ts names it. */
export function shardFile(drive: string, id: string, index: number): string {
  return join(drive, 'shards', id.slice(0, 2), id.slice(2, 4), `${id}.${index}`);
}

/** Inverts one byte of a file in place: simulated bitrot. */
export async function flipByte(path: string, offset: number): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const one = Buffer.alloc(1);
    await handle.read(one, 0, 1, offset);
    one[0] = (one[0] as number) ^ 0xff;
    await handle.write(one, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

/**
 * Where the shard's bytes are on the drive: its record in a pack (path and offset, from packs/index.db) or its
 * shard file (offset 0); undefined when it has neither. The bytes at `offset` are a shard file's, byte for byte.
 */
export async function locateShard(drive: string, id: string, index: number): Promise<{ path: string; offset: number; bytes: number } | undefined> {
  const row = withPackIndex(drive, (db) => db.prepare('SELECT pack, offset, bytes FROM shards WHERE block_id = ? AND shard_index = ?').get(id, index)) as
    | { pack: number; offset: number; bytes: number }
    | undefined;
  if (row) return { path: join(drive, 'packs', `${String(row.pack).padStart(10, '0')}.pack`), offset: row.offset, bytes: row.bytes };
  const path = shardFile(drive, id, index);
  const info = await stat(path).catch(() => undefined);
  return info ? { path, offset: 0, bytes: info.size } : undefined;
}

/** flipByte() at `offset` of the shard's bytes (header, data and checksums, as in a shard file), packed or not. */
export async function flipShardByte(drive: string, id: string, index: number, offset: number): Promise<void> {
  const place = await locateShard(drive, id, index);
  if (!place) throw new Error(`No shard "${index}" of block "${id}" on "${drive}"`);
  await flipByte(place.path, place.offset + offset);
}

/** Removes the shard behind the store's back (a lost file, a lost record): its pack row and its file. */
export async function removeShard(drive: string, id: string, index: number): Promise<void> {
  withPackIndex(drive, (db) => db.prepare('DELETE FROM shards WHERE block_id = ? AND shard_index = ?').run(id, index));
  await unlink(shardFile(drive, id, index)).catch(() => undefined);
}

/** Copies a shard to another drive as a shard file (a pack record holds a shard file's bytes), as a stray copy would be. */
export async function copyShard(from: string, to: string, id: string, index: number): Promise<void> {
  const place = await locateShard(from, id, index);
  if (!place) throw new Error(`No shard "${index}" of block "${id}" on "${from}"`);
  const target = shardFile(to, id, index);
  await mkdir(join(target, '..'), { recursive: true });
  if (place.offset === 0 && place.path === shardFile(from, id, index)) return copyFile(place.path, target);
  const source = await open(place.path, 'r');
  try {
    const bytes = Buffer.alloc(place.bytes);
    await source.read(bytes, 0, place.bytes, place.offset);
    const out = await open(target, 'wx');
    await out.writeFile(bytes);
    await out.close();
  } finally {
    await source.close();
  }
}

function withPackIndex<T>(drive: string, use: (db: Database.Database) => T): T | undefined {
  let db: Database.Database;
  try {
    db = new Database(join(drive, 'packs', 'index.db'), { fileMustExist: true });
  } catch {
    return undefined; // no packs on this drive
  }
  try {
    db.pragma('busy_timeout = 5000');
    return use(db);
  } finally {
    db.close();
  }
}

/** Whether the drive holds the shard, as a pack record or a file. */
export async function hasShard(drive: string, id: string, index: number): Promise<boolean> {
  return (await locateShard(drive, id, index)) !== undefined;
}

/** Pack rows on the drive (the shards it holds in packs), 0 without an index. */
export function packedShardCount(drive: string): number {
  return withPackIndex(drive, (db) => (db.prepare('SELECT COUNT(*) AS n FROM shards').get() as { n: number }).n) ?? 0;
}

/** The shard's bytes as a shard file holds them (header, data, checksums), from its pack record or its file. */
export async function readShardBytes(drive: string, id: string, index: number): Promise<Buffer> {
  const place = await locateShard(drive, id, index);
  if (!place) throw new Error(`No shard "${index}" of block "${id}" on "${drive}"`);
  const handle = await open(place.path, 'r');
  try {
    const bytes = Buffer.alloc(place.bytes);
    await handle.read(bytes, 0, place.bytes, place.offset);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Bytes of `path` in the page cache, by util-linux's fincore. */
export function residentBytes(path: string): number {
  return Number(execFileSync('fincore', ['--bytes', '--noheadings', '--output', 'RES', path], { encoding: 'utf8' }).trim());
}
