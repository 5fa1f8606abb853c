// A per-process LRU of open, header-checked shard readers, so a GET does not open, read the header of,
// fstat and close each shard file every time. It must never make a read return other bytes than a
// fresh open would; why that holds:
// - Shard files are immutable and block ids are random and never reused: a file whose header matched
//   (block id, shard index, length) when it was opened holds that shard's bytes for as long as the
//   inode lives, and Linux keeps an unlinked inode readable while a descriptor is open. So a handle to
//   a file GC has since deleted (here or in another process) still reads the right bytes.
// - Every read through a cached handle is CRC-verified as before. A failed read drops the entry and the
//   caller retries once on a fresh open, so a stale handle (a corrupt file heal has since replaced)
//   never makes a read fail that a fresh open would have served.
// - Deletes and heals in this process drop the block's entries at once; idle entries are closed after
//   a few seconds, so deleted files' space is not held long by any process.
// - A drive the store finds missing, and every drive when it is asked to look at them now (admin status,
//   heal), loses its entries, so reads see the drives as they are and a dead disk's files are let go.
// Scrub and heal never use it: they must look at the file that is on the drive now.
import { assert } from '../util/assert.js';
import type { ShardReadHandle as ShardReader } from './shard-store.js';

interface Entry<R extends ShardReader> {
  key: string;
  blockId: string;
  reader: Promise<R>;
  users: number;
  lastUsedMs: number;
  /** Out of the map: closed once its last user lets go. */
  dropped: boolean;
  closing: boolean;
}

/** One use of a reader, cached or not. */
export interface CachedShardReader<R extends ShardReader = ShardReader> {
  reader: R;
  cached: boolean;
  /** Stops lending the reader to later users: a read through it failed. */
  drop(): void;
  /** Ends this use, exactly once; an uncached reader is closed. */
  done(): Promise<void>;
}

export interface ShardReaderCacheOptions {
  entriesMax: number;
  idleMsMax: number;
  nowMs?: () => number;
}

export class ShardReaderCache<R extends ShardReader = ShardReader> {
  private readonly entries = new Map<string, Entry<R>>(); // in use order, least recent first
  private readonly sweeper: NodeJS.Timeout;
  private readonly nowMs: () => number;
  private closed = false;

  constructor(private readonly options: ShardReaderCacheOptions) {
    assert(options.entriesMax > 0 && options.idleMsMax > 0, 'Invalid shard reader cache options');
    this.nowMs = options.nowMs ?? Date.now;
    this.sweeper = setInterval(() => this.sweep(), Math.max(100, options.idleMsMax / 2));
    this.sweeper.unref(); // never what keeps a process alive
  }

  /** The cached reader of `key` (a target's key, the shard's name and its expected length), opening it with `open` when absent. */
  async acquire(key: string, blockId: string, open: () => Promise<R>): Promise<CachedShardReader<R>> {
    if (this.closed) return uncached(await open());
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key); // re-inserted below as the most recent
    else {
      const fresh: Entry<R> = { key, blockId, reader: open(), users: 0, lastUsedMs: 0, dropped: false, closing: false };
      fresh.reader.catch(() => this.drop(key, fresh)); // a failed open is not remembered
      entry = fresh;
    }
    this.entries.set(key, entry);
    entry.users++;
    entry.lastUsedMs = this.nowMs();
    this.evictOverflow();
    const used = entry;
    let reader: R;
    try {
      reader = await used.reader;
    } catch (err) {
      this.release(used);
      throw err;
    }
    let released = false;
    return {
      reader,
      cached: true,
      drop: () => this.drop(key, used),
      done: async () => {
        assert(!released, 'Cached shard reader released twice');
        released = true;
        this.release(used);
      },
    };
  }

  /** Drops every entry of `blockId`: its shards were deleted or rewritten by this process. */
  invalidate(blockId: string): void {
    for (const entry of [...this.entries.values()]) if (entry.blockId === blockId) this.drop(entry.key, entry);
  }

  /** Drops every entry whose key starts with `targetKey` and a slash: that target changed or went away. */
  invalidateUnder(targetKey: string): void {
    const prefix = `${targetKey}/`;
    for (const entry of [...this.entries.values()]) if (entry.key.startsWith(prefix)) this.drop(entry.key, entry);
  }

  /** Open entries, for tests. */
  get size(): number {
    return this.entries.size;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const entry of [...this.entries.values()]) this.drop(entry.key, entry);
  }

  private release(entry: Entry<R>): void {
    entry.users--;
    assert(entry.users >= 0, 'Shard reader cache use count went negative');
    entry.lastUsedMs = this.nowMs();
    if (entry.dropped) closeWhenIdle(entry);
  }

  private drop(key: string, entry: Entry<R>): void {
    if (this.entries.get(key) === entry) this.entries.delete(key);
    entry.dropped = true;
    closeWhenIdle(entry);
  }

  private evictOverflow(): void {
    for (const entry of this.entries.values()) {
      if (this.entries.size <= this.options.entriesMax) break;
      this.drop(entry.key, entry); // least recently used first; one in use closes when its users finish
    }
  }

  private sweep(): void {
    const oldestMs = this.nowMs() - this.options.idleMsMax;
    for (const entry of [...this.entries.values()]) {
      if (entry.users === 0 && entry.lastUsedMs < oldestMs) this.drop(entry.key, entry);
    }
  }
}

function closeWhenIdle<R extends ShardReader>(entry: Entry<R>): void {
  if (entry.users > 0 || entry.closing) return;
  entry.closing = true;
  entry.reader.then((r) => r.close(), () => undefined);
}

/** A reader used once and closed by done(): what reads get without a cache. */
export function uncached<R extends ShardReader>(reader: R): CachedShardReader<R> {
  return { reader, cached: false, drop: () => undefined, done: () => reader.close() };
}
