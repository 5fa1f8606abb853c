// One local drive (a target), the first ShardStore: its identity file, the shard files under <root>/shards
// and the pack files of small shards under <root>/packs (pack-store.ts), all named only from ids. Placement,
// codecs and quorums are not its business; all file I/O is async (threadpool), index lookups synchronous.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../util/assert.js';
import { isStoreError, StoreError } from '../util/errors.js';
import { driveOpsInFlightMax, driveOpTimeoutMs } from '../constants.js';
import { DriveIo, type DriveIoOptions } from './drive-io.js';
import { isBlockId, isDriveId, isShardIndex, newDriveId } from './ids.js';
import { packShardBytesMax } from './limits.js';
import { PackStore, type PackTicket } from './pack-store.js';
import type { PackRow } from './pack-index.js';
import { fsyncDir, ShardReader, ShardWriter } from './shard-file.js';
import type { ShardCallOptions, ShardName, ShardStore, ShardWriteStream, StoredShard, TargetHealth, TargetName } from './shard-store.js';
import { abortError } from './streams.js';

export const driveIdentityFile = 'drive.json';
const driveFormat = 'tessera-drive-v1';
/** The node name of drives reached in process. */
export const localNode = 'local';

/** Contents of drive.json; it lets the store notice a drive that was wiped or swapped. */
export interface DriveIdentity {
  format: typeof driveFormat;
  driveId: string;
  created: string;
  /** The drive set this drive belongs to, written by the block store (see drive-set.ts). */
  set?: { setId: string; epoch: number; drives: string[] };
}

/** One shard on the drive: a file (temporary files of unfinished writes too, for GC) or a pack record ("<pack path>@<offset>"). */
export interface ShardFileInfo extends StoredShard {
  path: string;
}

/** TESSERA_PACKS=off: new small shards are files as before (A/B benches, tests of the file format); packed ones still read. */
export function packsEnabled(): boolean {
  return process.env.TESSERA_PACKS !== 'off';
}

export type DriveState = 'ok' | 'missing';

export class LocalDrive implements ShardStore {
  readonly target: TargetName;
  readonly key: string;

  /** Whether createShard may pack small shards (TESSERA_PACKS at open). */
  private readonly packing = packsEnabled();

  private constructor(
    readonly root: string,
    readonly id: string,
    private identityValue: DriveIdentity,
    /** Every shard call's fs I/O runs through it: bounded, capped, and refused while the drive is suspect. */
    private readonly io: DriveIo,
    /** The drive's pack files and their index, shared with every other process serving this root. */
    readonly packs: PackStore,
  ) {
    this.target = { node: localNode, drive: id };
    this.key = `${localNode}/${id}`;
  }

  private static async withPacks(root: string, identity: DriveIdentity, ioOptions: DriveIoOptions): Promise<LocalDrive> {
    const io = new DriveIo(root, ioOptions);
    const packs = await PackStore.open(io, root);
    return new LocalDrive(root, identity.driveId, identity, io, packs);
  }

  /** Seals this instance's open pack and closes the pack index; the drive's files need no closing. */
  async close(): Promise<void> {
    await this.packs.close();
  }

  get suspect(): boolean {
    return this.io.suspect;
  }

  get identity(): DriveIdentity {
    return this.identityValue;
  }

  /** Opens a drive by its identity file, creating the drive (dir and identity) when `create` is set and none exists. */
  static async open(root: string, options: { create: boolean; driveId?: string; io?: DriveIoOptions }): Promise<LocalDrive> {
    const io = options.io ?? defaultDriveIo;
    const existing = await readDriveIdentity(root);
    if (existing) return LocalDrive.withPacks(root, existing, io);
    if (!options.create) throw new StoreError('ERR_SHARD_MISSING', `Cannot open drive "${root}": no ${driveIdentityFile}`);
    const identity: DriveIdentity = {
      format: driveFormat,
      driveId: options.driveId ?? newDriveId(),
      created: new Date().toISOString(),
    };
    await mkdir(join(root, 'shards'), { recursive: true });
    await writeIdentity(root, identity);
    return LocalDrive.withPacks(root, identity, io);
  }

  /** Rewrites drive.json (e.g. to record set membership); the drive id never changes. */
  async updateIdentity(identity: DriveIdentity): Promise<void> {
    assert(identity.driveId === this.id, 'A drive cannot change its id');
    await writeIdentity(this.root, identity);
    this.identityValue = identity;
  }

  /**
   * 'missing' when the directory is gone or unreadable or drive.json is absent or names another drive.
   * Not bounded by the drive's timeout: callers other than probe() and drive tests use probe().
   */
  async state(): Promise<DriveState> {
    const identity = await readDriveIdentity(this.root).catch(() => undefined);
    return identity?.driveId === this.id ? 'ok' : 'missing';
  }

  /** Bounded like every call; it is also what clears a suspect drive, when it answers in time. */
  async probe(options?: ShardCallOptions): Promise<TargetHealth> {
    checkSignal(options, `Cannot probe drive "${this.id}"`);
    return this.io.probe(async () => {
      const state = await this.state();
      if (state !== 'ok') {
        await this.packs.detach(); // a missing drive keeps nothing under its directory open
        return { state };
      }
      const fs = await statfs(this.root).catch(() => undefined);
      return fs ? { state, totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize } : { state };
    });
  }

  shardPath(blockId: string, shardIndex: number): string {
    assert(isBlockId(blockId), `Invalid block id "${blockId}"`);
    assert(isShardIndex(shardIndex), `Invalid shard index "${shardIndex}"`);
    return join(this.root, 'shards', blockId.slice(0, 2), blockId.slice(2, 4), `${blockId}.${shardIndex}`);
  }

  /**
   * A writer that decides at its first append: a whole shard of at most packShardBytesMax handed over in one
   * append (`last`) becomes a pack record, anything else a file as before. So no file is created up front.
   */
  async createShard(shard: ShardName, options: ShardCallOptions & { blockBytes: number; fresh?: boolean }): Promise<ShardWriteStream> {
    const { blockId, shardIndex } = shard;
    checkSignal(options, `Cannot write shard "${shardIndex}" of block "${blockId}"`);
    this.shardPath(blockId, shardIndex); // checks the name now, as the file writer did
    return new DriveShardWriter(this, shard, options.blockBytes, options.fresh === true);
  }

  /** Whether a first append of `bytes` with `last` goes to a pack. */
  packsAccept(bytes: number, last: boolean): boolean {
    return this.packing && last && bytes <= packShardBytesMax;
  }

  /** The shard's tmp file, created at the first append that does not go to a pack. */
  async createShardFile(shard: ShardName, blockBytes: number): Promise<ShardWriter> {
    const { blockId, shardIndex } = shard;
    const finalPath = this.shardPath(blockId, shardIndex);
    const tmpPath = `${finalPath}.tmp.${randomBytes(6).toString('hex')}`;
    const create = () => ShardWriter.create(this.io, { tmpPath, finalPath, blockId, shardIndex, blockBytes });
    // The fan-out directory exists on a drive in service (a few hundred thousand objects use all 65,536), so
    // the file is created first and the directory made only when that fails: two mkdir calls per shard
    // file were two threadpool round trips of every PUT (issue 17).
    return create().catch(async (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.ensureShardDir(blockId);
      return create();
    });
  }

  /** After a pack commit: an older file of the same shard (heal or a move rewrote it) must not stay shadowed. */
  dropShadowedFile(shard: ShardName): void {
    const path = this.shardPath(shard.blockId, shard.shardIndex);
    void this.io.cleanup(() => unlink(path));
  }

  /** The packed copy of a shard, when it has one; while the drive is suspect its index is not asked (it may hang too). */
  private packRow(shard: ShardName): PackRow | undefined {
    if (this.io.suspect) return undefined;
    return this.packs.lookup(shard);
  }

  async openShard(shard: ShardName, options: ShardCallOptions & { shardBytes: number }): Promise<ShardReader> {
    const { blockId, shardIndex } = shard;
    checkSignal(options, `Cannot read shard "${shardIndex}" of block "${blockId}"`);
    const expect = { blockId, shardIndex, shardBytes: options.shardBytes };
    // A row whose pack is gone was compacted meanwhile: its row points elsewhere now, so look once more.
    for (let attempt = 0; attempt < 2; attempt++) {
      const row = this.packRow(shard);
      if (!row) break;
      const reader = await this.packs.openRow(row, expect);
      if (reader) return reader;
    }
    return ShardReader.open(this.io, this.shardPath(blockId, shardIndex), expect);
  }

  async statShard(shard: ShardName, options?: ShardCallOptions): Promise<StoredShard | undefined> {
    checkSignal(options, `Cannot look up shard "${shard.shardIndex}" of block "${shard.blockId}"`);
    const row = this.packRow(shard);
    if (row) return { ...shard, bytes: row.bytes, mtimeMs: row.writtenMs, tmp: false };
    const path = this.shardPath(shard.blockId, shard.shardIndex);
    const info = await this.io.run(() => stat(path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      if (isStoreError(err)) throw err;
      throw new StoreError('ERR_SHARD_MISSING', `Cannot look up shard "${path}": ${err.code ?? String(err)}`, { cause: err });
    });
    if (!info?.isFile()) return undefined;
    return { ...shard, bytes: info.size, mtimeMs: info.mtimeMs, tmp: false };
  }

  /** Removes one shard, its pack row and its file alike (both may exist); an absent one is fine (deletes are idempotent). */
  async deleteShard(shard: ShardName, options?: ShardCallOptions): Promise<void> {
    checkSignal(options, `Cannot delete shard "${shard.shardIndex}" of block "${shard.blockId}"`);
    const path = this.shardPath(shard.blockId, shard.shardIndex);
    if (this.io.suspect) await this.io.run(async () => undefined); // fails as every call does while suspect
    await this.packs.remove(shard.blockId, shard.shardIndex);
    await this.io.run(() => unlink(path)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Every shard file on the drive (and leftover tmp files), in path order. */
  async *walk(options?: ShardCallOptions): AsyncGenerator<ShardFileInfo> {
    for (const first of await this.listPrefixes(undefined, options)) {
      for (const second of await this.listPrefixes(first, options)) yield* await this.listShards(first, second, options);
    }
  }

  /** Names of shards/ (no `first`) or shards/<first>/ fan-out directories, with the prefixes of packed shards, sorted; [] when none. */
  async listPrefixes(first: string | undefined, options?: ShardCallOptions): Promise<string[]> {
    checkSignal(options, `Cannot list drive "${this.id}"`);
    assert(first === undefined || /^[0-9a-f]{2}$/.test(first), 'Invalid shard fan-out directory');
    const dir = first === undefined ? join(this.root, 'shards') : join(this.root, 'shards', first);
    const names = new Set((await this.listDir(dir)).filter((name) => /^[0-9a-f]{2}$/.test(name)));
    for (let byte = 0; byte < 256; byte++) {
      const name = byte.toString(16).padStart(2, '0');
      if (!names.has(name) && this.packs.hasPrefix((first ?? '') + name)) names.add(name);
    }
    return [...names].sort();
  }

  /** The shard and tmp files in shards/<first>/<second>, sorted by name. */
  async listShards(first: string, second: string, options?: ShardCallOptions): Promise<ShardFileInfo[]> {
    assert(/^[0-9a-f]{2}$/.test(first) && /^[0-9a-f]{2}$/.test(second), 'Invalid shard fan-out directory');
    checkSignal(options, `Cannot list drive "${this.id}"`);
    const dir = join(this.root, 'shards', first, second);
    const files: ShardFileInfo[] = [];
    for (const name of await this.listDir(dir)) {
      const info = await this.describeShardFile(dir, name);
      if (info) files.push(info);
    }
    // One entry per shard: a packed shard's row is what reads use, so it stands for a file of the same name.
    const rows = this.packs.rowsWithPrefix(first + second);
    if (rows.length === 0) return files;
    const packed = new Set(rows.map((r) => `${r.blockId}.${r.shardIndex}`));
    const found: ShardFileInfo[] = files.filter((f) => f.tmp || !packed.has(`${f.blockId}.${f.shardIndex}`));
    for (const row of rows) {
      const path = `${this.packs.packPath(row.pack)}@${row.offset}`;
      found.push({ blockId: row.blockId, shardIndex: row.shardIndex, path, bytes: row.bytes, mtimeMs: row.writtenMs, tmp: false });
    }
    // Name order, as a directory listing gives: block id, then the index as the file name spells it, tmp files after.
    const key = (f: ShardFileInfo) => `${f.blockId}.${f.shardIndex}${f.tmp ? f.path.slice(f.path.lastIndexOf('.tmp.')) : ''}`;
    return found.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  /** Removes every shard and tmp file of `blockId`, whatever its index: for orphans, whose ref is lost. */
  async deleteBlock(blockId: string, options?: ShardCallOptions): Promise<number> {
    assert(isBlockId(blockId), `Invalid block id "${blockId}"`);
    const files = await this.listShards(blockId.slice(0, 2), blockId.slice(2, 4), options);
    let deleted = await this.packs.remove(blockId);
    for (const file of files) {
      if (file.blockId !== blockId || file.path.includes('@')) continue;
      await this.io.run(() => unlink(file.path)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      deleted++;
    }
    return deleted;
  }

  /**
   * Creates shards/ab/cd, but never the drive root or shards/ themselves: writing into a drive whose
   * directory vanished must fail (ENOENT → missing), not quietly rebuild an empty drive in its place.
   */
  private async ensureShardDir(blockId: string): Promise<void> {
    const shards = join(this.root, 'shards');
    const first = join(shards, blockId.slice(0, 2));
    const second = join(first, blockId.slice(2, 4));
    const createdFirst = await this.mkdirOnce(first);
    const createdSecond = await this.mkdirOnce(second);
    // A new directory is durable only once its parent's entry is: fsync the parents that changed.
    if (createdSecond) await fsyncDir(first, this.io);
    if (createdFirst) await fsyncDir(shards, this.io);
  }

  private async mkdirOnce(path: string): Promise<boolean> {
    try {
      await this.io.run(() => mkdir(path));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      if (isStoreError(err)) throw err;
      throw new StoreError('ERR_SHARD_MISSING', `Cannot create shard directory "${path}"`, { cause: err });
    }
  }

  private async describeShardFile(dir: string, name: string): Promise<ShardFileInfo | undefined> {
    const match = shardNamePattern.exec(name);
    if (!match) return undefined;
    const path = join(dir, name);
    const info = await this.io.run(() => stat(path)).catch((err: unknown) => {
      if (isStoreError(err)) throw err; // a hung drive, not a file deleted while walking
      return undefined;
    });
    if (!info?.isFile()) return undefined; // deleted while walking
    return {
      blockId: match[1] as string,
      shardIndex: Number(match[2]),
      path,
      bytes: info.size,
      mtimeMs: info.mtimeMs,
      tmp: match[3] !== undefined,
    };
  }

  private async listDir(path: string): Promise<string[]> {
    try {
      return (await this.io.run(() => readdir(path))).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}

/**
 * The writer createShard hands out: at the first append it becomes a pack record (a whole small shard) or a
 * shard file (anything else), so a file is never created for a shard that goes to a pack.
 */
class DriveShardWriter implements ShardWriteStream {
  private file: ShardWriter | undefined;
  private packed: PackTicket | undefined;
  private started = false;

  constructor(
    private readonly drive: LocalDrive,
    private readonly shard: ShardName,
    private readonly blockBytes: number,
    /** A new block's shard (ShardStore.createShard): no older file or row of it to replace, so none is looked for. */
    private readonly fresh: boolean,
  ) {}

  async append(data: Buffer, options?: ShardCallOptions & { last?: boolean }): Promise<void> {
    if (!this.started) {
      this.started = true;
      if (this.drive.packsAccept(data.length, options?.last === true)) {
        this.packed = await this.drive.packs.write(this.shard, data, this.blockBytes);
        return;
      }
      this.file = await this.drive.createShardFile(this.shard, this.blockBytes);
    }
    assert(this.file, 'Shard writer appended to after its last append');
    await this.file.append(data, options);
  }

  async commit(): Promise<void> {
    if (this.packed) {
      await this.drive.packs.commit(this.packed);
      if (!this.fresh) this.drive.dropShadowedFile(this.shard);
      return;
    }
    this.file ??= await this.drive.createShardFile(this.shard, this.blockBytes); // an empty shard
    await this.file.commit();
    // The file is the shard now: an older pack row would shadow it on reads.
    if (!this.fresh && this.drive.packs.lookup(this.shard)) await this.drive.packs.remove(this.shard.blockId, this.shard.shardIndex);
  }

  async abort(): Promise<void> {
    if (this.packed) this.drive.packs.abort(this.packed);
    else await this.file?.abort();
  }
}

/** Bounds of a drive's calls when the opener names none (tests, tools). */
const defaultDriveIo: DriveIoOptions = { timeoutMs: driveOpTimeoutMs, inFlightMax: driveOpsInFlightMax };

function checkSignal(options: ShardCallOptions | undefined, action: string): void {
  if (options?.signal?.aborted) throw abortError(options.signal, action);
}

const shardNamePattern = /^([0-9a-f]{32})\.(\d{1,2})(\.tmp\.[0-9a-f]+)?$/;

/** The identity of the drive at `root`; undefined when it has none (new or wiped). Throws when unreadable. */
export async function readDriveIdentity(root: string): Promise<DriveIdentity | undefined> {
  let text: string;
  try {
    text = await readFile(join(root, driveIdentityFile), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError('ERR_SHARD_MISSING', `Cannot read "${join(root, driveIdentityFile)}"`, { cause: err });
  }
  let parsed: Partial<DriveIdentity> | undefined;
  try {
    parsed = JSON.parse(text) as Partial<DriveIdentity>;
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.format !== driveFormat || !isDriveId(parsed.driveId)) {
    throw new StoreError('ERR_SHARD_CORRUPT', `Cannot use "${join(root, driveIdentityFile)}": not a Tessera drive identity`);
  }
  return parsed as DriveIdentity;
}

async function writeIdentity(root: string, identity: DriveIdentity): Promise<void> {
  const path = join(root, driveIdentityFile);
  const tmp = `${path}.tmp.${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, 'wx');
  try {
    await handle.writeFile(`${JSON.stringify(identity, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDir(root);
}
