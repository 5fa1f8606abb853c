// The pack files of one drive instance: small shards appended as records to <drive>/packs/<id>.pack, made
// durable by a group commit (fdatasync of the packs, one index transaction, and an fdatasync of the index's
// WAL only when the rows could not be found again in the packs: pack-recovery.ts), read through shared
// descriptors, and compacted in bounded background steps. It never names a file from user input, and never
// lets an index row become durable before the bytes it points at.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, open, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '../util/assert.js';
import { isStoreError, StoreError } from '../util/errors.js';
import type { DriveIo } from './drive-io.js';
import {
  packBytesTarget,
  packCompactBytesPerStep,
  packRecordAlignBytes,
  packRetiresPerStep,
  packStaleMs,
  packStepIntervalMs,
  wholeNumberFromEnv,
} from './limits.js';
import { unwatchPackIndex, watchPackIndex } from './pack-checkpoint.js';
import { PackIndex, type PackInfo, type PackMarks, type PackPlace, type PackRow, type RowChange } from './pack-index.js';
import { findRecords } from './pack-recovery.js';
import { GroupQueue, type Joined } from './pack-group.js';
import { PackReads } from './pack-reads.js';
import { directWriteAlignBytes, directWrites, type FileSyncBinding } from './native-file-sync.js';
import { dropBytes, FdCalls, fsyncDir, ioError, ShardReader, ShardWriter, shardRecordPieces, type ShardExpect } from './shard-file.js';
import type { ShardName } from './shard-store.js';

export const packsDirName = 'packs';

/** The pack this instance appends to. `end` is the next free offset; `users` counts records reserved and not yet settled. */
interface OpenPack {
  id: number;
  handle: FileHandle;
  end: number;
  users: number;
  /** No more reservations: full, closing, or sealed by another process. Sealed in the index once `users` is 0. */
  retired: boolean;
  /** Another process sealed it as stale: it is not ours to seal again. */
  lost: boolean;
  /** When this instance last told the index it still appends here (packs untouched for packStaleMs are sealed by anyone). */
  touchedMs: number;
  /** Set while its descriptor writes with direct I/O (O_DIRECT): records go through it, never handle.writev. */
  direct: FileSyncBinding | undefined;
  /** Direct writes not yet returned, timed out or not: the descriptor is closed only after them. */
  writing: FdCalls;
  /** Every record below this offset is written and settled. */
  base: number;
  /** The records reserved from `base` on, by offset (each starts where the one before it ends). */
  records: PackTicket[];
}

/** How often an owner refreshes its open pack's touched_ms: far inside packStaleMs, rare enough to cost nothing. */
const packTouchEveryMs = 30_000;

/** A record written and waiting for its group: `commit()` hands it in, `abort()` gives its space up. */
export interface PackTicket {
  pack: OpenPack;
  change: RowChange;
  settled: boolean;
  /** Its bytes were handed to the file in full (a failed write leaves this false for good). */
  written: boolean;
  /** Settles (never rejects) once its write returned, written or failed. */
  writeDone: Promise<unknown>;
  /** Where the next record of the pack starts. */
  end: number;
}

export interface PackStoreOptions {
  /** Seal an open pack at this many bytes (default packBytesTarget, or TESSERA_PACK_BYTES_TARGET). */
  bytesTarget?: number;
  nowMs?: () => number;
  /** "always": every group fdatasyncs the index's WAL, as before pack-recovery.ts (default TESSERA_PACK_WAL_SYNC, else "needed"). */
  walSync?: 'always' | 'needed';
}

export class PackStore {
  /** The direct writes new packs use; undefined writes them through the page cache (tests switch it). */
  static directWrites: FileSyncBinding | undefined = directWrites;

  /** Whose packs these are: each drive instance appends only to packs it created, even beside other processes. */
  readonly owner = randomBytes(8).toString('hex');
  readonly dir: string;
  /** undefined while detached: the drive was found missing, so nothing under it is held open (see detach()). */
  private indexValue: PackIndex | undefined;
  private readonly indexPath: string;
  private readonly bytesTarget: number;
  private readonly nowMs: () => number;
  private current: OpenPack | undefined;
  private starting: Promise<OpenPack> | undefined;
  private readonly groups: GroupQueue<PackTicket>;
  private wal: FileHandle | undefined;
  private readonly reads: PackReads;
  private timer: NodeJS.Timeout | undefined;
  private step: Promise<void> | undefined;
  /** The compaction in progress: the pack and the offset its next record copy starts from. */
  private compacting: { pack: number; fromOffset: number } | undefined;
  private closed = false;
  private indexClosed = false;
  private detaching = false;
  private staleCheckedMs = 0;
  /** Open packs are to be looked through for records whose rows were lost (set at open and when the index comes back). */
  private recoverPending = true;
  /** TESSERA_PACK_WAL_SYNC=always: every group fdatasyncs the WAL, as before pack-recovery.ts (A/B benches). */
  private readonly walSyncAlways: boolean;
  /** Groups that fdatasynced the index's WAL, for tests. */
  walSyncs = 0;

  private constructor(
    private readonly io: DriveIo,
    dir: string,
    /** packs/ as opened: a group fails once the path names another directory (the drive was moved, wiped or unmounted). */
    private readonly dirIdentity: { dev: number; ino: number },
    options: PackStoreOptions,
  ) {
    this.dir = dir;
    this.indexPath = join(dir, 'index.db');
    this.indexValue = new PackIndex(this.indexPath);
    this.reads = new PackReads(io, (pack) => this.packPath(pack));
    this.groups = new GroupQueue<PackTicket>(
      (group) => this.commitGroup(group),
      () => {
        if (!this.detaching) return;
        this.detaching = false;
        this.closeIndex();
      },
    );
    this.bytesTarget = options.bytesTarget ?? wholeNumberFromEnv('TESSERA_PACK_BYTES_TARGET', packBytesTarget, packRecordAlignBytes, 'bytes');
    this.nowMs = options.nowMs ?? Date.now;
    this.walSyncAlways = options.walSync === 'always';
    watchPackIndex(this.indexPath);
    this.timer = setInterval(() => this.maintain(), packStepIntervalMs);
    this.timer.unref();
  }

  /** Opens (creating packs/ when absent) the packs of the drive at `root`. Its index is opened on this thread, once. */
  static async open(io: DriveIo, root: string, options: PackStoreOptions = {}): Promise<PackStore> {
    options = { walSync: walSyncFromEnv(), ...options };
    const dir = join(root, packsDirName);
    const created = await mkdir(dir).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return false;
        throw err;
      },
    );
    if (created) await fsyncDir(root, io);
    const { dev, ino } = await io.run(() => stat(dir));
    const store = new PackStore(io, dir, { dev, ino }, options);
    // Rows lost to a power cut are back before the first read; should this fail, maintenance tries again.
    await store.recoverOpenPacks().catch(() => undefined);
    return store;
  }

  packPath(pack: number): string {
    assert(Number.isSafeInteger(pack) && pack > 0, `Invalid pack id "${pack}"`);
    return join(this.dir, `${String(pack).padStart(10, '0')}.pack`);
  }

  lookup(shard: ShardName): PackRow | undefined {
    return this.readIndex((index) => index.lookup(shard), undefined);
  }

  rowsWithPrefix(prefix: string): PackRow[] {
    return this.readIndex((index) => index.rowsWithPrefix(prefix), []);
  }

  hasPrefix(prefix: string): boolean {
    return this.readIndex((index) => index.hasPrefix(prefix), false);
  }

  /** Deletes the rows of a shard or a block; unfsynced on purpose (a lost delete brings back an orphan the sweep removes). */
  async remove(blockId: string, shardIndex?: number): Promise<number> {
    return this.readIndex((index) => index.remove(blockId, shardIndex), Promise.resolve(0));
  }

  /**
   * The index's answer, or `none` while the drive is detached and its directory not back: a missing drive
   * holds no packed shards, as its missing shards/ directory holds no files (reads then fail as missing,
   * deletes succeed as an unlink of an absent file does). Writes, which must fail, use the index directly.
   */
  private readIndex<T>(use: (index: PackIndex) => T, none: T): T {
    this.checkOpen();
    let index: PackIndex;
    try {
      index = this.index;
    } catch (err) {
      if (isStoreError(err, 'ERR_SHARD_MISSING')) return none;
      throw err;
    }
    return use(index);
  }

  /** Writes a whole shard as one record of the open pack. It is not visible, nor durable, before commit(). */
  async write(shard: ShardName, data: Buffer, blockBytes: number): Promise<PackTicket> {
    const pieces = shardRecordPieces({ ...shard, blockBytes }, data);
    const bytes = pieces.reduce((sum, piece) => sum + piece.length, 0);
    const row = { ...shard, pack: 0, offset: 0, bytes, writtenMs: 0 };
    return this.writeRecord(pieces, bytes, (place) => ({ kind: 'insert', row: { ...row, ...place, writtenMs: this.nowMs() } }));
  }

  /** Makes the record durable and visible, in the drive's next group; rejects when the group fails. */
  commit(ticket: PackTicket): Promise<void> {
    assert(!ticket.settled, 'Pack record committed after it settled');
    return this.groups.join(ticket);
  }

  /** Gives up an uncommitted record: its bytes stay as unreferenced space, reclaimed by compaction. */
  abort(ticket: PackTicket): void {
    this.settle(ticket);
  }

  /** A verified reader of `row`'s record, or undefined when its pack is gone (compacted meanwhile: look up again). */
  async openRow(row: PackRow, expect: ShardExpect): Promise<ShardReader | undefined> {
    let handle: FileHandle;
    try {
      handle = await this.reads.acquire(row.pack);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(err, `Cannot open pack "${this.packPath(row.pack)}"`);
    }
    const source = { handle, base: row.offset, release: () => this.reads.release(row.pack) };
    const where = `${this.packPath(row.pack)}@${row.offset}`;
    return ShardReader.openRecord(this.io, source, where, expect, row.bytes);
  }

  /** Stops maintenance, waits for groups in flight, seals the open pack and closes every descriptor and the index. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.step;
    await this.groups.idle();
    if (this.current) this.retire(this.current);
    if (this.wal) await this.io.cleanup(() => this.wal!.close());
    this.indexClosed = true;
    this.closeIndex();
  }

  /**
   * The index, reopened after a detach once the drive's directory is back (the same one: a new directory is a
   * new drive, opened by the drive set as such). Throws ERR_SHARD_MISSING while it is not.
   */
  private get index(): PackIndex {
    if (this.indexValue) return this.indexValue;
    let now: { dev: number; ino: number } | undefined;
    try {
      now = statSync(this.dir);
    } catch {
      now = undefined;
    }
    if (!now || now.dev !== this.dirIdentity.dev || now.ino !== this.dirIdentity.ino) {
      throw new StoreError('ERR_SHARD_MISSING', `Cannot use the packs of "${this.dir}": the drive is missing`);
    }
    try {
      this.indexValue = new PackIndex(this.indexPath, { create: false });
    } catch (err) {
      throw new StoreError('ERR_SHARD_MISSING', `Cannot open the pack index "${this.indexPath}"`, { cause: err });
    }
    this.recoverPending = true; // the drive went away: what its cache held of the WAL may be lost

    watchPackIndex(this.indexPath);
    return this.indexValue;
  }

  private closeIndex(): void {
    if (!this.indexValue) return;
    unwatchPackIndex(this.indexPath);
    this.indexValue.close();
    this.indexValue = undefined;
  }

  /**
   * Lets go of everything held under the drive's directory (index, WAL, open pack, idle read descriptors):
   * the drive was found missing, and a missing drive keeps none of its files open. The next call that needs
   * the index reopens it if the same directory is back; the open pack stays 'open' in its index until its
   * owner comes back or another process seals it as stale.
   */
  async detach(): Promise<void> {
    if (this.closed || !this.indexValue) return;
    const pack = this.current;
    if (pack) {
      pack.lost = true;
      this.retire(pack);
    }
    const wal = this.wal;
    this.wal = undefined;
    if (wal) await this.io.cleanup(() => wal.close());
    if (!this.groups.busy) this.closeIndex();
    else this.detaching = true; // after the group in flight, which fails its commits (the drive is gone)
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('ERR_CLOSED', `Cannot use the packs of "${this.dir}": the drive is closed`);
  }

  /** Reserves an aligned place in the open pack and writes `pieces` there. */
  private async writeRecord(pieces: Buffer[], bytes: number, change: (place: PackPlace) => RowChange): Promise<PackTicket> {
    this.checkOpen();
    const pack = await this.packWithRoom(bytes);
    const offset = pack.end;
    pack.end = alignUp(offset + bytes, packRecordAlignBytes);
    pack.users++;
    const ticket = { pack, change: change({ pack: pack.id, offset, bytes }), settled: false, written: false, end: pack.end } as PackTicket;
    pack.records.push(ticket);
    const write = (async () => {
      if (!(pack.direct && (await this.writeDirect(pack, pieces, offset)))) await this.writeBuffered(pack, pieces, offset);
    })();
    ticket.writeDone = write.catch(() => undefined);
    try {
      await write;
      ticket.written = true;
    } catch (err) {
      // The space may hold part of the record, and a walk of pack-recovery.ts stops there: records after it
      // would need the WAL's fdatasync, so later records go to a new pack.
      if (!pack.retired) this.retire(pack);
      this.settle(ticket);
      throw err;
    }
    return ticket;
  }

  /**
   * Writes a record with direct I/O: true once written, false when the file system refused it (EINVAL), after
   * which the pack is written through the page cache. The call is tracked until it returns, even past a timeout.
   */
  private async writeDirect(pack: OpenPack, pieces: Buffer[], offset: number): Promise<boolean> {
    const write = pack.direct;
    assert(write !== undefined && offset % directWriteAlignBytes === 0, 'Direct pack write without the addon or off alignment');
    try {
      await this.io.run(() => pack.writing.track(write.writeDirect(pack.handle.fd, pieces, offset)));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      pack.direct = undefined;
      write.setDirect(pack.handle.fd, false);
      return false;
    }
  }

  private async writeBuffered(pack: OpenPack, pieces: Buffer[], offset: number): Promise<void> {
    let rest = pieces;
    let position = offset;
    while (rest.length > 0) {
      const batch = rest;
      const { bytesWritten } = await this.io.run(() => pack.handle.writev(batch, position));
      position += bytesWritten;
      rest = dropBytes(rest, bytesWritten); // regular files rarely write short, but POSIX allows it
    }
  }

  /** The open pack if `bytes` fit (or it is empty), else a new one; several writers share one start. */
  private async packWithRoom(bytes: number): Promise<OpenPack> {
    for (;;) {
      this.checkOpen();
      const pack = this.current;
      if (pack && !pack.retired && (pack.end === 0 || pack.end + bytes <= this.bytesTarget)) return pack;
      if (pack && !pack.retired) this.retire(pack);
      this.starting ??= this.startPack().finally(() => (this.starting = undefined));
      await this.starting;
    }
  }

  /**
   * A new pack: its row made durable (pack-recovery.ts looks for lost rows only in packs the index knows),
   * then its file, then the directory entry made durable (rows will point into it).
   */
  private async startPack(): Promise<OpenPack> {
    const id = await this.index.createPack(this.owner, this.nowMs());
    const path = this.packPath(id);
    try {
      await this.syncWal();
      const handle = await this.io.run(
        () => open(path, 'wx'),
        (late) => void this.io.cleanup(() => late.close()),
      );
      await fsyncDir(this.dir, this.io);
      // Records start at multiples of packRecordAlignBytes (a multiple of the direct alignment), so direct I/O fits.
      const writes = PackStore.directWrites;
      const direct = writes && packRecordAlignBytes % directWriteAlignBytes === 0 && writes.setDirect(handle.fd, true) ? writes : undefined;
      const pack: OpenPack = { id, handle, end: 0, users: 0, retired: false, lost: false, touchedMs: this.nowMs(), direct, writing: new FdCalls(), base: 0, records: [] };
      this.current = pack;
      return pack;
    } catch (err) {
      // An empty sealed pack: the next maintenance step drops it (or, should this fail too, it is sealed once stale).
      await this.index.seal(id, this.owner, 0, this.nowMs()).catch(() => undefined);
      throw ioError(err, `Cannot create pack "${path}"`);
    }
  }

  /** No more records go to `pack`; it is sealed once its last reserved record settles. */
  private retire(pack: OpenPack): void {
    pack.retired = true;
    if (this.current === pack) this.current = undefined;
    this.sealIfIdle(pack);
  }

  private sealIfIdle(pack: OpenPack): void {
    if (!pack.retired || pack.users > 0) return;
    // After close the index is gone: the pack stays open in it and another process seals it once stale (as it
    // does should this write fail).
    if (!pack.lost && !this.indexClosed) void this.index.seal(pack.id, this.owner, pack.end, this.nowMs()).catch(() => undefined);
    void this.io.cleanup(async () => {
      await pack.writing.idle();
      await pack.handle.close();
    });
  }

  private settle(ticket: PackTicket): void {
    if (ticket.settled) return;
    ticket.settled = true;
    const pack = ticket.pack;
    pack.users--;
    assert(pack.users >= 0, 'Pack record settled twice');
    while (pack.records.length > 0 && pack.records[0]!.settled && pack.records[0]!.written) pack.base = pack.records.shift()!.end;
    this.sealIfIdle(pack);
  }

  /**
   * The group's bytes made durable, then its rows in one transaction; only then is any of it acknowledged.
   * The WAL is fdatasynced too unless pack-recovery.ts would find every record of the group again should the
   * transaction be lost: records appended, not moves, in packs still open and ours, each with every record
   * below it in its pack written before the packs' fdatasync began.
   */
  private async commitGroup(group: Joined<PackTicket>[]): Promise<void> {
    let applied = false;
    try {
      // Per pack, the bytes the group's records span: what its fdatasync drops from the cache, and end_offset.
      const written = new Map<OpenPack, { start: number; end: number }>();
      for (const { item } of group) {
        const { offset, bytes } = item.change.row;
        const range = written.get(item.pack);
        written.set(item.pack, range ? { start: Math.min(range.start, offset), end: Math.max(range.end, offset + bytes) } : { start: offset, end: offset + bytes });
      }
      const packs = new Set(written.keys());
      // Records reserved below the group's own and still being written: waiting for their writes (they began
      // before ours, so most are done or nearly) spares the WAL's fdatasync below.
      const below = [...written].flatMap(([pack, { end }]) => {
        const groupEnd = alignUp(end, packRecordAlignBytes);
        return pack.records.filter((r) => r.end <= groupEnd && !r.written && !r.settled).map((r) => r.writeDone);
      });
      if (below.length > 0) await Promise.all(below);
      const writtenTo = new Map([...packs].map((pack) => [pack, writtenPrefix(pack)]));
      // The bytes first: a row must never be durable before the record it points at.
      const syncs = [...packs].map((pack) => this.io.run(() => syncIfLinked(pack.handle, this.packPath(pack.id), written.get(pack)), undefined, 2));
      await Promise.all([...syncs, this.io.run(() => this.checkDirectory())]);
      const members = new Set(group.map((w) => w.item));
      const marks = new Map<number, PackMarks>([...written].map(([pack, { end }]) => [pack.id, { end, indexedTo: indexedPrefix(pack, members) }]));
      this.checkOpen();
      const ours = await this.index.applyGroup(
        group.map((w) => w.item.change),
        marks,
        this.owner,
        this.nowMs(),
      );
      applied = true;
      for (const pack of packs) pack.touchedMs = this.nowMs();
      const recoverable = ours && !this.walSyncAlways && group.every(({ item }) => item.change.kind === 'insert' && item.end <= writtenTo.get(item.pack)!);
      if (!recoverable) {
        this.walSyncs++;
        await this.syncWal();
      }
      for (const waiting of group) waiting.resolve();
    } catch (err) {
      // Rows visible but maybe not durable: take the new ones back (a move that lost it all is harmless).
      if (applied) await this.unapply(group);
      const failure = String((err as { code?: unknown }).code).startsWith('SQLITE_') || !(err instanceof Error) ? indexError(err, this.dir) : err;
      for (const waiting of group) waiting.reject(failure);
    } finally {
      for (const { item } of group) this.settle(item);
    }
  }

  private async unapply(group: Joined<PackTicket>[]): Promise<void> {
    try {
      for (const { item } of group) {
        const row = item.change.row;
        const now = this.index.lookup(row);
        if (item.change.kind === 'insert' && now && now.pack === row.pack && now.offset === row.offset) await this.index.remove(row.blockId, row.shardIndex);
      }
    } catch {
      // The index itself failed: nothing more to take back here.
    }
  }

  /**
   * The descriptors of a drive whose directory was renamed, deleted or mounted over still write happily: a
   * file-per-shard write fails at its open instead. One stat per group keeps that outcome.
   */
  private async checkDirectory(): Promise<void> {
    const now = await stat(this.dir).catch((err: unknown) => {
      throw ioError(err, `Cannot commit to "${this.dir}"`);
    });
    if (now.dev !== this.dirIdentity.dev || now.ino !== this.dirIdentity.ino) {
      throw new StoreError('ERR_SHARD_MISSING', `Cannot commit to "${this.dir}": it is another directory than the drive opened`);
    }
  }

  /** fdatasync of index.db-wal through DriveIo: what makes the group's transaction durable (synchronous=NORMAL). */
  private async syncWal(): Promise<void> {
    const path = `${this.index.path}-wal`;
    this.wal ??= await this.io.run(
      () => open(path, 'r'),
      (late) => void this.io.cleanup(() => late.close()),
    );
    const wal = this.wal;
    await this.io.run(() => syncIfLinked(wal, path), undefined, 2);
  }

  /** One maintenance step at a time, on the timer; errors wait for the next step (a missing drive, a busy index). */
  private maintain(): void {
    // A suspect drive may hang: its index (synchronous SQLite on this thread) is left alone until a probe clears it.
    if (this.step || this.closed || this.io.suspect) return;
    this.step = this.maintenanceStep()
      .catch(() => undefined)
      .finally(() => (this.step = undefined));
  }

  /**
   * Gives rows back to the records of open packs that a power cut (or a drive that went away) took them from
   * (pack-recovery.ts). Any process may do it, for any open pack, at any time: a row is added only where its
   * shard has none, for a whole record whose bytes are fsynced first.
   */
  async recoverOpenPacks(): Promise<number> {
    this.recoverPending = false;
    let added = 0;
    try {
      for (const info of this.index.openPacks()) added += await this.recoverPack(info);
    } catch (err) {
      this.recoverPending = true;
      throw err;
    }
    return added;
  }

  private async recoverPack(info: PackInfo): Promise<number> {
    let handle: FileHandle;
    try {
      handle = await this.io.run(
        () => open(this.packPath(info.id), 'r'),
        (late) => void this.io.cleanup(() => late.close()),
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0; // its file was never made (startPack failed)
      throw err;
    }
    try {
      const { size } = await this.io.run(() => handle.stat());
      if (size <= info.indexedTo) return 0;
      const found = await findRecords(this.io, handle, info.id, info.indexedTo, size, this.nowMs());
      if (found.rows.length === 0) return 0;
      await this.io.run(() => handle.datasync()); // the bytes before the rows that point at them
      return await this.index.recoverRows(info.id, found.rows, found.to);
    } finally {
      await this.io.cleanup(() => handle.close());
    }
  }

  /** Keeps our open pack ours, seals dead owners' packs, retires empty packs, then copies a bounded slice of a sparse one. */
  async maintenanceStep(): Promise<void> {
    if (this.recoverPending) await this.recoverOpenPacks();
    const nowMs = this.nowMs();
    const pack = this.current;
    if (pack && nowMs - pack.touchedMs >= packTouchEveryMs && !(await this.touch(pack, nowMs))) {
      pack.lost = true; // sealed by another process as stale: it may be compacted, so append no more
      this.retire(pack);
    }
    // A write transaction even when nothing is stale: every packTouchEveryMs is often enough against packStaleMs.
    if (nowMs - this.staleCheckedMs >= packTouchEveryMs) {
      this.staleCheckedMs = nowMs;
      // A pack leaves 'open' only with rows for all its records: sealed packs are not looked through.
      for (const stale of this.index.stalePacks(nowMs - packStaleMs)) {
        await this.recoverPack(stale);
        await this.index.sealStale(stale.id, nowMs, nowMs - packStaleMs);
      }
      await this.index.releaseStale(nowMs, nowMs - packStaleMs);
    }
    for (const dead of this.index.deadPacks(packRetiresPerStep)) {
      if (this.closed) return;
      await this.dropPack(dead);
    }
    await this.compactStep();
  }

  private touch(pack: OpenPack, nowMs: number): Promise<boolean> {
    pack.touchedMs = nowMs;
    return this.index.touch(pack.id, this.owner, nowMs);
  }

  /** Deletes a pack no row points at: its row first, then its file (a crash between leaves a file no row names, harmless). */
  private async dropPack(pack: number): Promise<void> {
    if (!(await this.index.dropPack(pack))) return;
    await this.io.run(() => unlink(this.packPath(pack))).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /**
   * Copies up to packCompactBytesPerStep of a claimed sparse pack's live records into our open pack, each
   * repointed only if its row still points at the old place; the pack goes once no row points at it.
   */
  private async compactStep(): Promise<void> {
    if (!this.compacting) {
      const pack = await this.index.claimSparse(this.owner, this.nowMs());
      if (pack === undefined) return;
      this.compacting = { pack, fromOffset: 0 };
    }
    const job = this.compacting;
    await this.index.touch(job.pack, this.owner, this.nowMs());
    let copied = 0;
    while (copied < packCompactBytesPerStep) {
      const rows = this.index.rowsOf(job.pack, job.fromOffset, 64);
      if (rows.length === 0) {
        this.compacting = undefined;
        await this.dropPack(job.pack);
        return;
      }
      for (const row of rows) {
        if (this.closed) return;
        await this.copyRecord(row);
        copied += row.bytes;
        job.fromOffset = row.offset + 1;
        if (copied >= packCompactBytesPerStep) return;
      }
    }
  }

  /** The record's raw bytes, as they are (a corrupt one stays corrupt for reads and scrub to find), into our open pack. */
  private async copyRecord(row: PackRow): Promise<void> {
    const raw = Buffer.allocUnsafe(row.bytes);
    const handle = await this.reads.acquire(row.pack);
    try {
      const { bytesRead } = await this.io.run(() => handle.read(raw, 0, row.bytes, row.offset));
      assert(bytesRead === row.bytes, `Pack record of shard "${row.shardIndex}" of block "${row.blockId}" is truncated`);
    } finally {
      await this.reads.release(row.pack);
    }
    const from: PackPlace = { pack: row.pack, offset: row.offset, bytes: row.bytes };
    const ticket = await this.writeRecord([raw], row.bytes, (place) => ({ kind: 'move', row: { ...row, ...place }, from }));
    await this.commit(ticket);
  }
}

/**
 * fdatasync, after checking the file still has a name: a drive whose directory was deleted must fail its
 * writes, not ack them. `drop`: the range the group wrote, advised out of the page cache once durable (as a
 * shard file's pages are, shard-file.ts), so packed writes reuse freed pages instead of growing the cache.
 */
async function syncIfLinked(handle: FileHandle, path: string, drop?: { start: number; end: number }): Promise<void> {
  const { nlink } = await handle.stat();
  if (nlink === 0) throw new StoreError('ERR_SHARD_MISSING', `Cannot commit to "${path}": the file was deleted (the drive is gone)`);
  const sync = ShardWriter.fileSync;
  if (drop && sync) await sync.syncDropping(handle.fd, true, drop.start, drop.end - drop.start);
  else await handle.datasync();
}

function indexError(err: unknown, dir: string): Error {
  // SQLITE_FULL is the drive's ENOSPC: say so in the cause chain, where the writer looks for a full drive.
  const code = (err as { code?: string }).code;
  const cause = code === 'SQLITE_FULL' ? Object.assign(new Error(String(err)), { code: 'ENOSPC', cause: err }) : err;
  return new StoreError('ERR_SHARD_MISSING', `Cannot commit to the pack index of "${dir}": ${code ?? String(err)}`, { cause });
}

/** The end of the run of records from the pack's start whose writes all returned: whole once the pack is fsynced. */
function writtenPrefix(pack: OpenPack): number {
  let to = pack.base;
  for (const record of pack.records) {
    if (!record.written) break;
    to = record.end;
  }
  return to;
}

/** The end of the run of records from the pack's start that are settled or in `group`: each has its row, or never will. */
function indexedPrefix(pack: OpenPack, group: ReadonlySet<PackTicket>): number {
  let to = pack.base;
  for (const record of pack.records) {
    if (!record.settled && !group.has(record)) break;
    to = record.end;
  }
  return to;
}

/** TESSERA_PACK_WAL_SYNC: "always" (every group fdatasyncs the index's WAL) or "needed" (the default). */
function walSyncFromEnv(): 'always' | 'needed' {
  const value = process.env.TESSERA_PACK_WAL_SYNC ?? 'needed';
  if (value !== 'always' && value !== 'needed') throw new Error(`TESSERA_PACK_WAL_SYNC must be "always" or "needed", not "${value}"`);
  return value;
}

function alignUp(value: number, align: number): number {
  return Math.ceil(value / align) * align;
}
