// Checked stripes of hot blocks, kept in memory: a GET of an object read often is answered without a read
// or a CRC32 pass. Safe to key by block id because block data is immutable (shared/design.md §2): an id's
// bytes never change, so an entry can only go stale by its block being deleted, after which no record
// names it and no read asks for it.
//
// What is kept, so that the cache never costs more than it saves (keeping a stripe costs a copy into fresh
// memory, about what a read out of the page cache costs):
// - A stripe is kept on its second miss within the recent past: a "ghost" list remembers the stripes missed
//   once, up to as many bytes as the cache holds. One pass over many objects read once (a backup) does not
//   push the hot set out, and a cycle of reads over more than twice the cache's bytes, which an LRU would
//   miss every time, keeps nothing rather than copying every stripe in only to evict it unread.
// - Blocks larger than an eighth of the cache are not kept, so a few large objects cannot own it; their
//   reads stream from the page cache as before.
// Entries are plain allocations, never pooled: a socket may still be sending one after its eviction.

/** What a stripe cache holds and did, for tests and metrics. */
export interface StripeCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  admitted: number;
}

export class StripeCache {
  /** Kept stripes, least recently used first (a Map keeps insertion order; a hit moves its entry last). */
  private readonly entries = new Map<string, Buffer>();
  /** Stripes missed once lately with their bytes, oldest first: a second miss admits one. */
  private readonly ghosts = new Map<string, number>();
  private ghostBytes = 0;
  /** Blocks larger than this are not kept. */
  private readonly blockBytesMax: number;
  /** Kept stripes per block, so drop() of a block with none kept costs one lookup. */
  private readonly perBlock = new Map<string, number>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private admitted = 0;

  /** `bytesMax`: the most the entries hold together; 0 turns the cache off. */
  constructor(readonly bytesMax: number) {
    this.blockBytesMax = Math.floor(bytesMax / 8);
  }

  /** The checked bytes of stripe `stripe` of `blockId`, when kept. */
  get(blockId: string, stripe: number): Buffer | undefined {
    if (this.bytesMax === 0) return undefined;
    const key = keyOf(blockId, stripe);
    const entry = this.entries.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  /**
   * Whether a stripe of `bytes` of a block of `blockBytes` that just missed should be kept once read: true
   * on its second miss lately. A caller told true copies the whole stripe's bytes and hands them to put().
   */
  wants(blockId: string, stripe: number, bytes: number, blockBytes: number): boolean {
    if (this.bytesMax === 0 || blockBytes > this.blockBytesMax) return false;
    const key = keyOf(blockId, stripe);
    const ghost = this.ghosts.get(key);
    if (ghost !== undefined) {
      this.ghosts.delete(key);
      this.ghostBytes -= ghost;
      return true;
    }
    this.ghosts.set(key, bytes);
    this.ghostBytes += bytes;
    for (const [oldest, size] of this.ghosts) {
      if (this.ghostBytes <= this.bytesMax) break;
      this.ghosts.delete(oldest);
      this.ghostBytes -= size;
    }
    return false;
  }

  /** Keeps `bytes` (owned by the cache from now on) as stripe `stripe` of `blockId`, evicting the least recently used. */
  put(blockId: string, stripe: number, bytes: Buffer): void {
    if (this.bytesMax === 0 || bytes.length > this.bytesMax) return;
    const key = keyOf(blockId, stripe);
    const old = this.entries.get(key);
    if (old !== undefined) this.remove(key, blockId, old);
    this.entries.set(key, bytes);
    this.perBlock.set(blockId, (this.perBlock.get(blockId) ?? 0) + 1);
    this.bytes += bytes.length;
    this.admitted++;
    for (const [oldest, entry] of this.entries) {
      if (this.bytes <= this.bytesMax) break;
      this.remove(oldest, oldest.slice(0, oldest.indexOf(':')), entry);
    }
  }

  /** Forgets a deleted block's `stripeCount` stripes, so their memory goes back now rather than when they age out. */
  drop(blockId: string, stripeCount: number): void {
    if (!this.perBlock.has(blockId)) return;
    for (let stripe = 0; stripe < stripeCount && this.perBlock.has(blockId); stripe++) {
      const key = keyOf(blockId, stripe);
      const entry = this.entries.get(key);
      if (entry !== undefined) this.remove(key, blockId, entry);
    }
  }

  private remove(key: string, blockId: string, entry: Buffer): void {
    this.entries.delete(key);
    this.bytes -= entry.length;
    const left = (this.perBlock.get(blockId) ?? 1) - 1;
    if (left > 0) this.perBlock.set(blockId, left);
    else this.perBlock.delete(blockId);
  }

  stats(): StripeCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, misses: this.misses, admitted: this.admitted };
  }
}

function keyOf(blockId: string, stripe: number): string {
  return `${blockId}:${stripe}`;
}
