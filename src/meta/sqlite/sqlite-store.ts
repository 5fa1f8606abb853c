// MetaStore on embedded SQLite (one machine). Reads run on the caller's thread against a WAL snapshot;
// commits run on a worker thread that groups every transaction waiting into one fsync (group commit),
// so neither the fsync nor a slow commit ever blocks the event loop. Several processes of one server
// (`--workers`) may each open it `shared`, and send their commits to one thread in their primary over a
// Unix socket (`commitSocket`): each commit then also logs the keys it wrote, and a reader that sees
// PRAGMA data_version move drops from its cache the keys logged since it last looked.
import Database from 'better-sqlite3';
import type { Worker } from 'node:worker_threads';
import { connect, type Socket } from 'node:net';
import { mkdirSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { StoreError } from '../../util/errors.js';
import { assert } from '../../util/assert.js';
import { keyNameOf, keyOfName, mergedAdds, type GetOptions, type KeyName, type KvPair, type MetaStore, type ReadBatch, type ReadResult, type ScanRange, type Txn } from '../types.js';
import { observeCommit, observeCommitBatch } from '../commit-stats.js';
import type { BatchReplies, CommitReply, CommitRequest, CommitWorkerData } from './commit-worker.js';
import { encodeFrame, readFrames } from '../../util/socket-frames.js';
import { ReadCache } from './read-cache.js';
import { startModuleThread } from '../../util/module-thread.js';

/**
 * Default bytes of recently read values kept in memory (read-cache.ts). In bench/ab.ts, whose 256 small
 * objects all fit, a small GET took 0.87-0.90x the CPU without it (runs in both orders).
 */
const metaReadCacheBytes = 32 * 1024 * 1024;
/**
 * Rows of the change log kept (shared stores): a reader that fell further behind than this, or finds more
 * than this many keys to drop at once, empties its cache instead. 10,000 rows is some 3,000 PUTs (a PUT
 * writes about three keys) between two reads of a worker; the table never holds more than twice that.
 */
export const changeLogRows = 10_000;
/** Bytes of the database file the reader maps; pages past it are read with pread(). */
const readerMmapBytes = 256 * 1024 * 1024;

interface Pending {
  resolve: (ok: boolean) => void;
  reject: (err: Error) => void;
  /** The keys the commit writes, as the read cache names them (their KeyNames). */
  written: string[];
  startMs: number;
}

/**
 * A scan as one value: per row the key's and the value's lengths in decimal, "," and ":" after them, then
 * the key's and the value's bytes (splitScanPage() reads it). NULL for an empty range. BLOB bytes pass
 * through group_concat unchanged. It concatenates in the order its subquery yields the rows, which is key
 * order: a subquery with LIMIT under an aggregate is not flattened but run as a coroutine. SQLite does not
 * promise that order without an ORDER BY inside group_concat, which would sort the page again (about
 * twice the cost), so sqlite-store.test.ts checks it on the SQLite better-sqlite3 bundles.
 */
const scanPageSql = `SELECT CAST(group_concat(octet_length(k) || ',' || octet_length(v) || ':' || k || v, x'') AS BLOB)
  FROM (SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?)`;

/** The rows of a scanPageSql answer, as views into it. */
function splitScanPage(page: Buffer): KvPair[] {
  const rows: KvPair[] = [];
  let at = 0;
  while (at < page.length) {
    let keyBytes = 0;
    for (let c = page[at++]!; c !== 0x2c; c = page[at++]!) keyBytes = keyBytes * 10 + c - 0x30;
    let valueBytes = 0;
    for (let c = page[at++]!; c !== 0x3a; c = page[at++]!) valueBytes = valueBytes * 10 + c - 0x30;
    const valueAt = at + keyBytes;
    const end = valueAt + valueBytes;
    assert(end <= page.length, 'Scan page ends inside a row');
    rows.push({ key: page.subarray(at, valueAt), value: page.subarray(valueAt, end) });
    at = end;
  }
  return rows;
}

/** How long a connection waits for another's write lock before SQLITE_BUSY (SQLite retries meanwhile). */
export const sqliteBusyTimeoutMs = 5000;

export function openSqliteDatabase(path: string, readonly: boolean): Database.Database {
  const db = new Database(path, { readonly, fileMustExist: readonly });
  // First: with several processes on one file even setting the journal mode may wait for a lock.
  db.pragma(`busy_timeout = ${sqliteBusyTimeoutMs}`);
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    // The keys shared stores' commits wrote, in commit order (AUTOINCREMENT: a seq is never used twice).
    db.exec('CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, k BLOB NOT NULL)');
  }
  // FULL: every commit fsyncs the WAL, so an acknowledged commit survives power loss.
  db.pragma('synchronous = FULL');
  return db;
}

/**
 * Takes the one-writer lock of the database at `path`: an exclusive SQLite lock on a file beside it, held
 * for as long as the returned connection is open. The kernel drops it when the process dies, kill -9
 * included, so a crash never leaves a stale lock. A second server on the same data directory would
 * otherwise run beside this one, each serving from its read cache what the other has since overwritten.
 */
export function takeWriterLock(path: string): Database.Database {
  const lockPath = `${path}.lock`;
  const lock = new Database(lockPath, { timeout: 0 });
  try {
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE');
    return lock;
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    throw new StoreError('ERR_META_LOCKED', `Cannot open the metadata at "${path}": another process has it open`, { cause: err });
  }
}

/** What a commit link reports to its store. */
interface LinkEvents {
  /** One group commit's replies to this store's requests. */
  replies(message: BatchReplies): void;
  /** The link is gone: no reply to come, and no commit can be sent. */
  failed(err: Error): void;
}

/** Where a store's commits go: its own commit thread, or its primary's over the commit socket. */
interface CommitLink {
  listen(events: LinkEvents): void;
  post(request: CommitRequest): void;
  close(): Promise<void>;
}

/** Starts a commit thread (commit-worker.ts); resolves once it is online, or, serving a socket, listening. */
export function startCommitThread(data: CommitWorkerData): Promise<Worker> {
  return startModuleThread(import.meta.url, 'commit-worker', data, data.socketPath !== undefined, 'metadata commit');
}

class ThreadLink implements CommitLink {
  constructor(private readonly worker: Worker) {}

  listen(events: LinkEvents): void {
    this.worker.on('message', (message: BatchReplies) => events.replies(message));
    this.worker.on('error', (err) => events.failed(err));
    this.worker.on('exit', () => events.failed(new StoreError('ERR_CLOSED', 'Metadata commit worker exited')));
  }

  post(request: CommitRequest): void {
    this.worker.postMessage(request);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** A worker's commits to its primary's commit thread, as frames (util/socket-frames.ts) over a Unix socket. */
class SocketLink implements CommitLink {
  #closing = false;

  private constructor(private readonly socket: Socket, private readonly socketPath: string) {}

  static async connect(socketPath: string): Promise<SocketLink> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve();
      });
      socket.once('error', reject);
    });
    return new SocketLink(socket, socketPath);
  }

  listen(events: LinkEvents): void {
    readFrames(this.socket, (message) => events.replies(message as BatchReplies));
    this.socket.on('error', () => undefined); // 'close' follows
    this.socket.on('close', () => {
      if (!this.#closing) events.failed(new StoreError('ERR_META_UNAVAILABLE', `The link to the metadata commit thread (${this.socketPath}) closed: the server's primary process is gone`));
    });
  }

  post(request: CommitRequest): void {
    this.socket.write(encodeFrame(request));
  }

  close(): Promise<void> {
    this.#closing = true;
    if (this.socket.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }
}

export interface SqliteOpenOptions {
  /** Bytes of recently read values kept in memory; 0 turns the cache off. */
  cacheBytes?: number;
  /**
   * Other processes write the same database (the workers of one `tessera server --workers N`, whose
   * primary holds the one-server lock): no lock is taken here, commits log the keys they write, and
   * whenever PRAGMA data_version says another connection committed since the last read, the read cache
   * drops the keys logged since.
   */
  shared?: boolean;
  /** Rows of the change log kept when shared (default changeLogRows; tests make it small). */
  changeLogRows?: number;
  /**
   * Shared: send commits to the commit thread serving this Unix socket (the primary's, startCommitThread
   * with a socketPath) rather than to a thread of this process, so that all the processes' commits are
   * grouped together.
   */
  commitSocket?: string;
}

export class SqliteMetaStore implements MetaStore {
  readonly #lock: Database.Database | undefined;
  readonly #reader: Database.Database;
  readonly #link: CommitLink;
  /** Set once the link failed: commits are refused at once rather than sent where nothing answers. */
  #linkLost: Error | undefined;
  readonly #pending = new Map<number, Pending>();
  readonly #cache: ReadCache;
  readonly #get: Database.Statement<[Buffer], { v: Buffer }>;
  readonly #scan: Database.Statement<[Buffer, Buffer, number], { k: Buffer; v: Buffer }>;
  readonly #scanPage: Database.Statement<[Buffer, Buffer, number], Buffer | null>;
  /** PRAGMA data_version on the reader, when other processes write: it changes with every commit not made through the reader. */
  readonly #dataVersion: Database.Statement<[], number> | undefined;
  #seenVersion = -1;
  /** The change log after a seq, at most a given number of rows (shared stores). */
  readonly #changesAfter: Database.Statement<[number, number], { seq: number; k: Buffer }> | undefined;
  readonly #lastChange: Database.Statement<[], number> | undefined;
  /** The newest seq of the change log whose keys the cache has dropped. */
  #seenChange = 0;
  readonly #changeLogRows: number;
  /** Times the cache was emptied because the change log could not say what changed (tests). */
  #cacheResets = 0;
  /** Set by a data_version check until the synchronous run it was made in ends (a microtask clears it). */
  #checkedThisRun = false;
  readonly #endRun = (): void => {
    this.#checkedThisRun = false;
  };
  readonly #path: string;
  #nextId = 1;
  #closed = false;

  private constructor(path: string, lock: Database.Database | undefined, reader: Database.Database, link: CommitLink, cacheBytes: number, changeLogRows: number) {
    this.#path = path;
    this.#lock = lock;
    this.#reader = reader;
    this.#cache = new ReadCache(cacheBytes);
    this.#link = link;
    this.#get = reader.prepare('SELECT v FROM kv WHERE k = ?');
    this.#scan = reader.prepare('SELECT k, v FROM kv WHERE k >= ? AND k < ? ORDER BY k LIMIT ?');
    this.#scanPage = reader.prepare<[Buffer, Buffer, number], Buffer | null>(scanPageSql).pluck();
    this.#dataVersion = lock === undefined && cacheBytes > 0 ? reader.prepare<[], number>('PRAGMA data_version').pluck() : undefined;
    this.#changeLogRows = changeLogRows;
    if (this.#dataVersion) {
      this.#changesAfter = reader.prepare('SELECT seq, k FROM changes WHERE seq > ? ORDER BY seq LIMIT ?');
      this.#lastChange = reader.prepare<[], number>('SELECT coalesce(max(seq), 0) FROM changes').pluck();
      this.#seenChange = this.#lastChange.get()!;
    }
    link.listen({
      replies: (message) => this.#onReplies(message),
      failed: (err) => {
        this.#linkLost ??= err;
        this.#failAll(err);
      },
    });
  }

  /**
   * Opens (creating) the database at `path`, as its one writer: the read cache (`cacheBytes`, 0 to turn it
   * off) relies on seeing every commit, so while this store is open no other one (in any process) can
   * open the same path; it fails with ERR_META_LOCKED. With `shared`, the caller holds that lock for a
   * group of processes (see SqliteOpenOptions).
   */
  static async open(path: string, options: SqliteOpenOptions = {}): Promise<SqliteMetaStore> {
    mkdirSync(dirname(path), { recursive: true });
    const lock = options.shared ? undefined : takeWriterLock(path);
    try {
      const logRows = options.shared ? (options.changeLogRows ?? changeLogRows) : 0;
      return await SqliteMetaStore.#openLocked(path, lock, options.cacheBytes ?? metaReadCacheBytes, logRows, options.shared ? options.commitSocket : undefined);
    } catch (err) {
      lock?.close();
      throw err;
    }
  }

  static async #openLocked(path: string, lock: Database.Database | undefined, cacheBytes: number, changeLogRows: number, commitSocket: string | undefined): Promise<SqliteMetaStore> {
    openSqliteDatabase(path, false).close(); // create schema and WAL mode before any reader opens
    const link = commitSocket !== undefined ? await SocketLink.connect(commitSocket) : new ThreadLink(await startCommitThread({ path, changeLogRows }));
    let reader: Database.Database;
    try {
      reader = openSqliteDatabase(path, true);
    } catch (err) {
      await link.close();
      throw err;
    }
    // Reads map the database file instead of pread()ing each page: a small GET made 22 pread64 calls
    // before (strace; the reader's page cache kept none of them), none after, at 0.82-1.03x the CPU per
    // GET in four bench/ab.ts runs. An I/O error on a mapped page kills the process with SIGBUS rather
    // than failing one read; the metadata drive is gone then anyway. Pages still in the WAL are read as
    // before.
    reader.pragma(`mmap_size = ${readerMmapBytes}`);
    return new SqliteMetaStore(path, lock, reader, link, cacheBytes, changeLogRows);
  }

  /**
   * When another connection committed since the last look, drops from the read cache the keys logged
   * since. It runs before the read it guards: a commit landing between the two then shows at the next
   * look, so a value read before it never outlives it in the cache (read after the select, the stale value
   * could be kept for good). data_version is read before the log, so the log holds at least every commit
   * that version counts.
   *
   * The cache is emptied instead when the log cannot say what changed: no new rows (a commit that logged
   * nothing; also, once or twice a second under steady writes, data_version moving with no commit behind
   * it yet, most likely a writer starting the WAL over after a checkpoint), a gap after the last row seen
   * (pruned while this reader looked away), or more rows than the log keeps. Then the newest seq is taken
   * as seen: any commit up to it is visible to the reads that follow.
   *
   * Once per synchronous run: a run begins with a callback of the event loop (I/O, a timer, a message), after
   * the bytes of every request served in it were read from their sockets, so after every acknowledgement
   * their clients had seen. A commit landing later in the run is concurrent with those requests, which may
   * see it or not, as they may when it lands just after the check. A GET's three reads (one run) cost one
   * check, two fcntl calls on the WAL index, where they cost three (docs/benchmarks.md).
   */
  #freshen(): void {
    if (!this.#dataVersion || this.#checkedThisRun) return;
    const version = this.#readNow(() => this.#dataVersion!.get()!);
    if (version !== this.#seenVersion) {
      // The version counts as seen only once its keys are dropped: should a read of the log fail, the next
      // read tries again.
      const rows = this.#readNow(() => this.#changesAfter!.all(this.#seenChange, this.#changeLogRows + 1));
      if (rows.length === 0 || rows.length > this.#changeLogRows || rows[0]!.seq !== this.#seenChange + 1) {
        this.#cacheResets++;
        this.#cache.clear();
        this.#seenChange = Math.max(this.#seenChange, this.#readNow(() => this.#lastChange!.get()!));
      } else {
        for (const row of rows) this.#cache.forget(keyNameOf(row.k));
        this.#seenChange = rows[rows.length - 1]!.seq;
      }
      this.#seenVersion = version;
    }
    this.#checkedThisRun = true;
    queueMicrotask(this.#endRun);
  }

  /** A read on the reader connection; SQLite's busy error (past busy_timeout) is an operating error, never a bug. */
  #readNow<T>(read: () => T): T {
    try {
      return read();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) throw new StoreError('ERR_META_UNAVAILABLE', `Cannot read metadata from "${this.#path}": the database stayed locked`, { cause: err });
      throw err;
    }
  }

  async get(key: Buffer, options?: GetOptions): Promise<Buffer | null> {
    return this.getNow(key, options);
  }

  getNow(key: Buffer | KeyName, options?: GetOptions): Buffer | null {
    this.#assertOpen();
    const name = typeof key === 'string' ? key : keyNameOf(key);
    this.#freshen();
    const cached = this.#cache.get(name);
    if (cached) return cached;
    const bytes = typeof key === 'string' ? keyOfName(key) : key;
    const value = this.#readNow(() => this.#get.get(bytes))?.v ?? null;
    if (value && options?.fill !== false) this.#cache.offer(name, value);
    return value;
  }

  /** The read cache's entries and bytes, and how often the change log could not say what to drop, for tests. */
  get cacheStats(): { entries: number; bytes: number; resets: number } {
    return { entries: this.#cache.size, bytes: this.#cache.bytes, resets: this.#cacheResets };
  }

  /**
   * The rows come as one Buffer for the whole range (scanPageSql), each key and value a view into it:
   * better-sqlite3 makes every BLOB column a Buffer of its own, which cost more than the rest of the
   * scan (a 1,000-row page of ListObjects: ~3x less CPU this way, bench/list.ts and docs/benchmarks.md).
   * A range too large for one SQLite value (SQLITE_TOOBIG, past 1 GB) is read row by row instead.
   */
  async scan(range: ScanRange): Promise<KvPair[]> {
    this.#assertOpen();
    assert(range.limit > 0, 'Scan limit must be positive');
    if (Buffer.compare(range.start, range.end) >= 0) return [];
    let page: Buffer | null;
    try {
      page = this.#readNow(() => this.#scanPage.get(range.start, range.end, range.limit) ?? null);
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_TOOBIG') throw err;
      return this.#scanNow(range);
    }
    return page === null ? [] : splitScanPage(page);
  }

  #scanNow(range: ScanRange): KvPair[] {
    this.#assertOpen();
    assert(range.limit > 0, 'Scan limit must be positive');
    if (Buffer.compare(range.start, range.end) >= 0) return [];
    return this.#readNow(() => this.#scan.all(range.start, range.end, range.limit)).map((r) => ({ key: r.k, value: r.v }));
  }

  /**
   * In-process reads cost no round trip: the single calls, one after the other. A scanned row goes through
   * the read cache like a get (the cached Buffer when there is one, else offered to it): GET finds a key's
   * newest version with a one-row scan, and the same Buffer each time lets the object layer reuse its
   * decoded record (decodeSharedRecord). Listings scan with scan(), so they never fill the cache.
   */
  async readMany(batch: ReadBatch): Promise<ReadResult> {
    const values: (Buffer | null)[] = [];
    for (const key of batch.gets) values.push(this.getNow(key));
    const scans: KvPair[][] = [];
    if (batch.scans.length > 0) this.#freshen();
    for (const range of batch.scans) {
      // Read and offered in one synchronous run: no commit can begin or end in between.
      scans.push(this.#scanNow(range).map((kv) => {
        const name = keyNameOf(kv.key);
        const cached = this.#cache.get(name);
        if (cached) return { key: kv.key, value: cached };
        this.#cache.offer(name, kv.value);
        return kv;
      }));
    }
    return { values, scans };
  }

  commit(txn: Txn): Promise<boolean> {
    this.#assertOpen();
    if (this.#linkLost) return Promise.reject(this.#linkLost);
    const id = this.#nextId++;
    const adds = mergedAdds(txn.adds);
    const request: CommitRequest = { id, checks: txn.checks, writes: txn.writes, adds };
    const written = [...txn.writes, ...adds].map((w) => keyNameOf(w.key));
    this.#cache.beginWrite(written);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, written, startMs: performance.now() });
      this.#link.post(request);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Let commits in flight finish before the worker goes.
    while (this.#pending.size > 0) await new Promise((r) => setTimeout(r, 5));
    await this.#link.close();
    this.#reader.close();
    this.#lock?.close();
  }

  #onReplies({ commits, replies }: BatchReplies): void {
    // One message per SQLite transaction: this store's members of that group commit (other processes' too
    // are counted in `commits`).
    observeCommitBatch(commits);
    const nowMs = performance.now();
    for (const reply of replies) {
      const pending = this.#pending.get(reply.id);
      assert(pending, `Commit reply for unknown id ${reply.id}`);
      this.#pending.delete(reply.id);
      this.#cache.endWrite(pending.written);
      observeCommit((nowMs - pending.startMs) / 1000);
      if (reply.error) pending.reject(this.#commitError(reply));
      else pending.resolve(reply.ok);
    }
  }

  /** A failed batch, named for what went wrong: a full disk is not a shutdown (issue #10). */
  #commitError(reply: CommitReply): StoreError {
    if (reply.errorCode === 'SQLITE_FULL') {
      let used = '';
      try {
        const fs = statfsSync(dirname(this.#path));
        used = ` (${Math.round((1 - fs.bavail / fs.blocks) * 100)}% used)`;
      } catch {
        // how full stays unsaid; the failure itself is what matters
      }
      return new StoreError('ERR_META_FULL', `Cannot commit metadata to "${this.#path}": the disk is full${used}: ${reply.error}`);
    }
    if (reply.errorCode?.startsWith('SQLITE_BUSY')) return new StoreError('ERR_META_UNAVAILABLE', `Cannot commit metadata to "${this.#path}": the database stayed locked by another process: ${reply.error}`);
    return new StoreError('ERR_META_IO', `Cannot commit metadata to "${this.#path}": ${reply.error}${reply.errorCode ? ` (${reply.errorCode})` : ''}`);
  }

  #failAll(err: Error): void {
    for (const pending of this.#pending.values()) {
      this.#cache.endWrite(pending.written);
      pending.reject(err);
    }
    this.#pending.clear();
    this.#cache.clear(); // whatever the worker did last is unknown
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreError('ERR_CLOSED', 'Metadata store is closed');
  }
}
