// The index of one drive's pack files, <drive>/packs/index.db: which record of which pack holds a shard,
// and each pack's state. Synchronous SQLite on the caller's thread (microseconds per statement, page
// cache); it never fsyncs here: pack-store.ts makes the WAL durable through DriveIo when a group needs it
// (most groups do not: their rows can be found again in the packs, pack-recovery.ts).
// Every worker process of a server writes to the same index, so a write may find another process holding
// the write lock. SQLite's busy handler would sleep on the event loop until it is free (1 ms, then 2, 5,
// ...: seen under two workers' PUTs); writes instead go through a second connection that never waits, and
// a busy write tries again after a timer, the loop serving requests meanwhile.
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { assert } from '../util/assert.js';
import type { ShardName } from './shard-store.js';
import { packWalBytesKept } from './pack-checkpoint.js';

/** Where a packed shard's record is: pack id, byte offset in it and the record's bytes (header and checksums included). */
export interface PackPlace {
  pack: number;
  offset: number;
  bytes: number;
}

export interface PackRow extends ShardName, PackPlace {
  writtenMs: number;
}

export type PackState = 'open' | 'sealed' | 'compacting';

export interface PackInfo {
  id: number;
  state: PackState;
  owner: string | null;
  touchedMs: number;
  endOffset: number;
  /** Every record below this offset that was ever committed has its row (the rest are found by pack-recovery.ts). */
  indexedTo: number;
  liveBytes: number;
}

/** Where a group's records end in one pack, and what its rows now cover from the pack's start (see indexedTo). */
export interface PackMarks {
  end: number;
  indexedTo: number;
}

/** Another process of the same drive holds the write lock for at most one group's transaction: wait this long. */
const packIndexBusyTimeoutMs = 5_000;

/** A busy write's first wait before it tries again, doubled each time up to the last (milliseconds). */
const busyRetryFirstMs = 1;
const busyRetryLastMs = 16;

const schema = `
  CREATE TABLE IF NOT EXISTS packs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL CHECK (state IN ('open', 'sealed', 'compacting')),
    owner TEXT,
    touched_ms INTEGER NOT NULL,
    end_offset INTEGER NOT NULL DEFAULT 0,
    live_bytes INTEGER NOT NULL DEFAULT 0,
    indexed_to INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE IF NOT EXISTS shards (
    block_id TEXT NOT NULL,
    shard_index INTEGER NOT NULL,
    pack INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    written_ms INTEGER NOT NULL,
    PRIMARY KEY (block_id, shard_index)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS shards_by_pack ON shards (pack, offset);
`;

/** One group's change to a shard's row: a new record, or a compacted copy that replaces `from` only if the row still points there. */
export type RowChange = { kind: 'insert'; row: PackRow } | { kind: 'move'; row: PackRow; from: PackPlace };

export class PackIndex {
  /** Reads, and the schema: waits out a busy lock as SQLite does (reads in WAL mode hardly ever meet one). */
  private readonly db: Database.Database;
  /** Writes: never waits (busy_timeout 0); write() tries again after a timer instead. */
  private readonly writer: Database.Database;
  private readonly statements;
  private readonly writes;
  private readonly busyTimeoutMs: number;
  /** Writes that found the lock taken and waited for it, for tests and benchmarks. */
  busyWaits = 0;

  /**
   * `create`: make index.db when absent (a drive's first open); a reopen after the drive went away must find it.
   * `busyTimeoutMs`: how long a write waits for another process's transaction (tests shorten it).
   */
  constructor(
    readonly path: string,
    options: { create: boolean; busyTimeoutMs?: number } = { create: true },
  ) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? packIndexBusyTimeoutMs;
    this.db = new Database(path, { fileMustExist: !options.create });
    let writer: Database.Database | undefined;
    try {
      this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
      this.db.pragma('journal_mode = WAL');
      this.db.exec(schema);
      addIndexedTo(this.db);
      writer = new Database(path, { fileMustExist: true });
      writer.pragma('busy_timeout = 0');
      // NORMAL: a commit writes the WAL but does not fsync it. pack-store.ts fdatasyncs index.db-wal through
      // DriveIo (the threadpool, bounded by the drive's timeout) before it acknowledges the group, so no fsync
      // ever runs on the event loop and a row is durable before its commit() resolves.
      writer.pragma('synchronous = NORMAL');
      // A checkpoint fsyncs the database file: never on the event loop. pack-checkpoint.ts runs them on a
      // thread. (Only commits checkpoint automatically, and only the writer commits.)
      writer.pragma('wal_autocheckpoint = 0');
      // After pack-checkpoint.ts restarts the WAL, this connection's first commit cuts the file back to this.
      writer.pragma(`journal_size_limit = ${packWalBytesKept()}`);
      this.statements = prepareStatements(this.db);
      this.writes = prepareStatements(writer);
    } catch (err) {
      writer?.close();
      this.db.close();
      throw err;
    }
    this.writer = writer;
  }

  lookup(shard: ShardName): PackRow | undefined {
    const row = this.statements.lookup.get(shard.blockId, shard.shardIndex);
    return row && { ...shard, pack: row.pack, offset: row.offset, bytes: row.bytes, writtenMs: row.written_ms };
  }

  /** Rows whose block id starts with `prefix` (hex), sorted by block id and shard index. */
  rowsWithPrefix(prefix: string): PackRow[] {
    return this.statements.range.all(prefix, nextPrefix(prefix)).map((r) => ({
      blockId: r.block_id,
      shardIndex: r.shard_index,
      pack: r.pack,
      offset: r.offset,
      bytes: r.bytes,
      writtenMs: r.written_ms,
    }));
  }

  hasPrefix(prefix: string): boolean {
    return this.statements.any.get(prefix, nextPrefix(prefix)) !== undefined;
  }

  /** A new open pack owned by `owner`; its id is never reused (AUTOINCREMENT), so a cached descriptor cannot name another pack. */
  async createPack(owner: string, nowMs: number): Promise<number> {
    return Number((await this.write(() => this.writes.create.run(owner, nowMs))).lastInsertRowid);
  }

  /** False when the pack is no longer this owner's (sealed by another process as stale). */
  async touch(pack: number, owner: string, nowMs: number): Promise<boolean> {
    return (await this.write(() => this.writes.touch.run(nowMs, pack, owner))).changes === 1;
  }

  /** Sealed by its owner once every record reserved in it settled: its rows cover it to `endOffset`. */
  async seal(pack: number, owner: string, endOffset: number, nowMs: number): Promise<void> {
    await this.write(() => this.writes.seal.run(endOffset, endOffset, nowMs, pack, owner));
  }

  /** Open packs whose rows may not cover every record in them: what pack-recovery.ts looks through. */
  openPacks(): PackInfo[] {
    return this.statements.openPacks.all().map(packInfo);
  }

  /** Open packs untouched since `beforeMs`: their owner died. */
  stalePacks(beforeMs: number): PackInfo[] {
    return this.statements.stalePacks.all(beforeMs).map(packInfo);
  }

  /** Seals `pack` if it is still open and untouched since `beforeMs` (its records recovered first); true if it did. */
  async sealStale(pack: number, nowMs: number, beforeMs: number): Promise<boolean> {
    return (await this.write(() => this.writes.sealStale.run(nowMs, pack, beforeMs))).changes === 1;
  }

  /** Frees compaction claims untouched since `beforeMs` (their owner died); returns how many. */
  releaseStale(nowMs: number, beforeMs: number): Promise<number> {
    return this.write(() => this.writes.releaseStale.run(nowMs, beforeMs).changes);
  }

  /**
   * Rows for records found in `pack` after its indexed_to (pack-recovery.ts), each only where its shard has
   * no row yet: a row elsewhere is newer or the same bytes. Then the pack's rows cover it to `indexedTo`.
   * Returns how many rows were added. The pack's touched_ms stays its owner's.
   */
  async recoverRows(pack: number, rows: readonly PackRow[], indexedTo: number): Promise<number> {
    const s = this.writes;
    return this.write(() => {
      let added = 0;
      for (const row of rows) {
        if (s.insertNew.run(row.blockId, row.shardIndex, row.pack, row.offset, row.bytes, row.writtenMs).changes !== 1) continue;
        s.addLive.run(row.bytes, row.pack);
        added++;
      }
      s.cover.run(indexedTo, indexedTo, pack);
      return added;
    });
  }

  /**
   * One group's rows in one transaction. A move applies only while the row still points at its old place,
   * so a delete or rewrite that happened meanwhile wins. `marks` grows each written pack's end_offset and
   * indexed_to. Returns whether every one of those packs is still open and `owner`'s: if not, another
   * process sealed it as stale, and its rows are no longer found again by pack-recovery.ts should they be lost.
   */
  async applyGroup(changes: readonly RowChange[], marks: ReadonlyMap<number, PackMarks>, owner: string, nowMs: number): Promise<boolean> {
    const s = this.writes;
    return this.write(() => {
      for (const change of changes) {
        const { row } = change;
        if (change.kind === 'insert') {
          const old = s.lookup.get(row.blockId, row.shardIndex);
          if (old) s.addLive.run(-old.bytes, old.pack);
          s.insert.run(row.blockId, row.shardIndex, row.pack, row.offset, row.bytes, row.writtenMs);
          s.addLive.run(row.bytes, row.pack);
        } else {
          const moved = s.move.run(row.pack, row.offset, row.writtenMs, row.blockId, row.shardIndex, change.from.pack, change.from.offset).changes;
          if (moved === 1) {
            s.addLive.run(-change.from.bytes, change.from.pack);
            s.addLive.run(row.bytes, row.pack);
          }
        }
      }
      let ours = true;
      for (const [pack, { end, indexedTo }] of marks) {
        const now = s.mark.get(end, indexedTo, nowMs, pack);
        if (now?.state !== 'open' || now.owner !== owner) ours = false;
      }
      return ours;
    });
  }

  /** Deletes the rows of one shard (`shardIndex`) or of a whole block; returns how many went. */
  remove(blockId: string, shardIndex?: number): Promise<number> {
    const s = this.writes;
    return this.write(() => {
      const gone = shardIndex === undefined ? s.removeBlock.all(blockId) : s.remove.all(blockId, shardIndex);
      for (const row of gone as { pack: number; bytes: number }[]) s.addLive.run(-row.bytes, row.pack);
      return gone.length;
    });
  }

  /** Sealed packs no row points at, at most `limit`. */
  deadPacks(limit: number): number[] {
    return this.statements.deadPacks.all(limit).map((r) => r.id);
  }

  /** Removes the pack's row if still no shard row points at it; the caller unlinks the file after. */
  async dropPack(pack: number): Promise<boolean> {
    return (await this.write(() => this.writes.dropPack.run(pack, pack))).changes === 1;
  }

  /** The pack this owner is compacting, else one it just claimed (sealed, less than half live), else undefined. */
  async claimSparse(owner: string, nowMs: number): Promise<number | undefined> {
    const mine = this.statements.claimed.get(owner);
    if (mine) return mine.id;
    const sparse = this.statements.sparse.get();
    if (!sparse) return undefined;
    return (await this.write(() => this.writes.claim.run(owner, nowMs, sparse.id))).changes === 1 ? sparse.id : undefined;
  }

  /**
   * Every write runs in BEGIN IMMEDIATE on the writer connection: it takes the write lock first, or fails at
   * once with SQLITE_BUSY while another process of the drive holds it, before `work` ran. It then tries again
   * after 1, 2, 4 ... 16 ms timers, for at most busyTimeoutMs, and the event loop goes on meanwhile. (A
   * deferred transaction that reads first and then writes could fail after its reads, when another process
   * committed meanwhile; IMMEDIATE never does.)
   */
  private async write<T>(work: () => T): Promise<T> {
    const deadlineMs = performance.now() + this.busyTimeoutMs;
    for (let waitMs = busyRetryFirstMs; ; waitMs = Math.min(2 * waitMs, busyRetryLastMs)) {
      try {
        return this.writer.transaction(work).immediate();
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() + waitMs > deadlineMs) throw err;
      }
      this.busyWaits++;
      await sleep(waitMs);
    }
  }

  /** Rows of `pack` at or after `fromOffset`, by offset, at most `limit`. */
  rowsOf(pack: number, fromOffset: number, limit: number): PackRow[] {
    return this.statements.rowsOf.all(pack, fromOffset, limit).map((r) => ({
      blockId: r.block_id,
      shardIndex: r.shard_index,
      pack,
      offset: r.offset,
      bytes: r.bytes,
      writtenMs: r.written_ms,
    }));
  }

  info(pack: number): PackInfo | undefined {
    const r = this.statements.info.get(pack);
    return r && packInfo(r);
  }

  close(): void {
    if (this.writer.open) this.writer.close();
    if (this.db.open) this.db.close();
  }
}

/** Every statement of the index, prepared on one connection. */
function prepareStatements(db: Database.Database) {
  return {
    lookup: db.prepare<[string, number], { pack: number; offset: number; bytes: number; written_ms: number }>(
      'SELECT pack, offset, bytes, written_ms FROM shards WHERE block_id = ? AND shard_index = ?',
    ),
    range: db.prepare<[string, string], { block_id: string; shard_index: number; pack: number; offset: number; bytes: number; written_ms: number }>(
      'SELECT block_id, shard_index, pack, offset, bytes, written_ms FROM shards WHERE block_id >= ? AND block_id < ? ORDER BY block_id, shard_index',
    ),
    any: db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM shards WHERE block_id >= ? AND block_id < ? LIMIT 1'),
    insert: db.prepare('INSERT OR REPLACE INTO shards (block_id, shard_index, pack, offset, bytes, written_ms) VALUES (?, ?, ?, ?, ?, ?)'),
    insertNew: db.prepare('INSERT OR IGNORE INTO shards (block_id, shard_index, pack, offset, bytes, written_ms) VALUES (?, ?, ?, ?, ?, ?)'),
    remove: db.prepare<[string, number]>('DELETE FROM shards WHERE block_id = ? AND shard_index = ? RETURNING pack, bytes'),
    removeBlock: db.prepare<[string]>('DELETE FROM shards WHERE block_id = ? RETURNING pack, bytes'),
    move: db.prepare('UPDATE shards SET pack = ?, offset = ?, written_ms = ? WHERE block_id = ? AND shard_index = ? AND pack = ? AND offset = ?'),
    addLive: db.prepare<[number, number]>('UPDATE packs SET live_bytes = live_bytes + ? WHERE id = ?'),
    mark: db.prepare<[number, number, number, number], { state: PackState; owner: string | null }>(
      'UPDATE packs SET end_offset = MAX(end_offset, ?), indexed_to = MAX(indexed_to, ?), touched_ms = ? WHERE id = ? RETURNING state, owner',
    ),
    create: db.prepare<[string, number]>("INSERT INTO packs (state, owner, touched_ms) VALUES ('open', ?, ?)"),
    touch: db.prepare<[number, number, string]>("UPDATE packs SET touched_ms = ? WHERE id = ? AND owner = ? AND state IN ('open', 'compacting')"),
    cover: db.prepare<[number, number, number]>('UPDATE packs SET end_offset = MAX(end_offset, ?), indexed_to = MAX(indexed_to, ?) WHERE id = ?'),
    seal: db.prepare<[number, number, number, number, string]>(
      "UPDATE packs SET state = 'sealed', end_offset = MAX(end_offset, ?), indexed_to = MAX(indexed_to, ?), touched_ms = ? WHERE id = ? AND owner = ? AND state = 'open'",
    ),
    openPacks: db.prepare<[], PackRecord>("SELECT * FROM packs WHERE state = 'open'"),
    stalePacks: db.prepare<[number], PackRecord>("SELECT * FROM packs WHERE state = 'open' AND touched_ms < ?"),
    sealStale: db.prepare<[number, number, number]>("UPDATE packs SET state = 'sealed', owner = NULL, touched_ms = ? WHERE id = ? AND state = 'open' AND touched_ms < ?"),
    releaseStale: db.prepare<[number, number]>("UPDATE packs SET state = 'sealed', owner = NULL, touched_ms = ? WHERE state = 'compacting' AND touched_ms < ?"),
    deadPacks: db.prepare<[number], { id: number }>(
      "SELECT id FROM packs p WHERE state = 'sealed' AND NOT EXISTS (SELECT 1 FROM shards s WHERE s.pack = p.id) LIMIT ?",
    ),
    dropPack: db.prepare<[number, number]>("DELETE FROM packs WHERE id = ? AND state IN ('sealed', 'compacting') AND NOT EXISTS (SELECT 1 FROM shards WHERE pack = ?)"),
    sparse: db.prepare<[], { id: number }>("SELECT id FROM packs WHERE state = 'sealed' AND live_bytes * 2 < end_offset ORDER BY live_bytes LIMIT 1"),
    claim: db.prepare<[string, number, number]>("UPDATE packs SET state = 'compacting', owner = ?, touched_ms = ? WHERE id = ? AND state = 'sealed'"),
    claimed: db.prepare<[string], { id: number }>("SELECT id FROM packs WHERE state = 'compacting' AND owner = ? LIMIT 1"),
    rowsOf: db.prepare<[number, number, number], { block_id: string; shard_index: number; offset: number; bytes: number; written_ms: number }>(
      'SELECT block_id, shard_index, offset, bytes, written_ms FROM shards WHERE pack = ? AND offset >= ? ORDER BY offset LIMIT ?',
    ),
    info: db.prepare<[number], PackRecord>('SELECT * FROM packs WHERE id = ?'),
  };
}

/** A packs row as SQLite returns it. */
interface PackRecord {
  id: number;
  state: PackState;
  owner: string | null;
  touched_ms: number;
  end_offset: number;
  live_bytes: number;
  indexed_to: number;
}

function packInfo(r: PackRecord): PackInfo {
  return { id: r.id, state: r.state, owner: r.owner, touchedMs: r.touched_ms, endOffset: r.end_offset, indexedTo: r.indexed_to, liveBytes: r.live_bytes };
}

/**
 * Adds packs.indexed_to to an index made before it existed. Every group of that code made its rows durable
 * before it acknowledged them, so each pack's rows cover it to its end_offset.
 */
function addIndexedTo(db: Database.Database): void {
  const has = () => (db.pragma('table_info(packs)') as { name: string }[]).some((c) => c.name === 'indexed_to');
  if (has()) return;
  db.transaction(() => {
    if (has()) return; // another process of the drive added it meanwhile
    db.exec('ALTER TABLE packs ADD COLUMN indexed_to INTEGER NOT NULL DEFAULT 0; UPDATE packs SET indexed_to = end_offset');
  }).immediate();
}

/** The smallest hex string above every string starting with `prefix` ("ab" → "ac", "af" → "b0", "ff" → "g"). */
function nextPrefix(prefix: string): string {
  assert(/^[0-9a-f]+$/.test(prefix), `Invalid block id prefix "${prefix}"`);
  const last = prefix.charCodeAt(prefix.length - 1);
  // '9' + 1 is ':', which sorts below 'a': jump to 'a'. 'f' + 1 is 'g', above every hex digit: fine as is.
  const next = last === 0x39 ? 'a' : String.fromCharCode(last + 1);
  return prefix.slice(0, -1) + next;
}
