// Recently read metadata values, kept in memory so a hot key (a bucket record, a small object's current
// version) is not read from SQLite on every GET. It is correct only because it hears of every commit:
// this process's pass through SqliteMetaStore, which tells the cache before and after, and those of the
// other processes sharing the database file (`--workers`), whose written keys SqliteMetaStore reads from
// the change log and drops. A store whose other writers it cannot hear of (PostgreSQL behind many
// gateways) must not use it.
//
// The rule that keeps reads strongly consistent: a key with a commit in flight is neither served from
// nor added to the cache, and the commit's reply drops it again. A read that raced the commit (and saw
// the old or the new value) can then never leave a value behind that outlives the acknowledgement.
import { assert } from '../../util/assert.js';

/** Bytes counted for an entry besides its key and value (the Map slot and the key string). */
const entryOverheadBytes = 64;

export class ReadCache {
  readonly #entries = new Map<string, Buffer>();
  /** Keys written by commits not yet answered, with how many such commits each has. */
  readonly #writing = new Map<string, number>();
  readonly #bytesMax: number;
  readonly #entryBytesMax: number;
  #bytes = 0;

  /** `bytesMax` 0 turns the cache off. Entries are evicted oldest first (FIFO). */
  constructor(bytesMax: number) {
    assert(bytesMax >= 0, 'Cache size must not be negative');
    this.#bytesMax = bytesMax;
    // No single value may take more than 1/64 of the cache (a large multipart record, say).
    this.#entryBytesMax = Math.floor(bytesMax / 64);
  }

  /** Bytes the entries take, as counted against the limit. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Buffer | undefined {
    return this.#writing.has(key) ? undefined : this.#entries.get(key);
  }

  /** Remembers a value just read from the database, unless a commit to its key is in flight. */
  offer(key: string, value: Buffer): void {
    if (this.#bytesMax === 0 || this.#writing.has(key)) return;
    const cost = key.length + value.length + entryOverheadBytes;
    if (cost > this.#entryBytesMax) return;
    this.#drop(key);
    this.#entries.set(key, value);
    this.#bytes += cost;
    for (const [oldest] of this.#entries) {
      if (this.#bytes <= this.#bytesMax) break;
      this.#drop(oldest);
    }
  }

  /** A commit writing `keys` is about to be sent: stop serving and caching them. */
  beginWrite(keys: readonly string[]): void {
    for (const key of keys) {
      this.#writing.set(key, (this.#writing.get(key) ?? 0) + 1);
      this.#drop(key);
    }
  }

  /** That commit was answered (applied, refused or failed): drop what was read meanwhile. */
  endWrite(keys: readonly string[]): void {
    for (const key of keys) {
      const left = (this.#writing.get(key) ?? 0) - 1;
      assert(left >= 0, 'endWrite() without beginWrite()');
      if (left === 0) this.#writing.delete(key);
      else this.#writing.set(key, left);
      this.#drop(key);
    }
  }

  /** Drops `key`'s entry: another process committed a new value for it. */
  forget(key: string): void {
    this.#drop(key);
  }

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }

  #drop(key: string): void {
    const value = this.#entries.get(key);
    if (value === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= key.length + value.length + entryOverheadBytes;
  }
}
