// The read path of one block: for each stripe in the range, read only the data-chunk pieces needed;
// when a shard is missing or corrupt, read k healthy chunks of just that stripe and decode.
import { assert } from '../util/assert.js';
import type { Semaphore } from '../util/semaphore.js';
import { isStoreError, StoreError, type StoreErrorCode } from '../util/errors.js';
import { allocStripe, chunkOf, type Codec, type StripeBuffers } from './codec/index.js';
import { readAheadStripes } from './limits.js';
import type { BufferPool } from './buffer-pool.js';
import type { ShardRangeReader, ShardReadHandle, ShardStore } from './shard-store.js';
import { uncached, type CachedShardReader, type ShardReaderCache } from './shard-reader-cache.js';
import { chunkBytesOf, piecesOf, shardBytesOf, type StripeLayout } from './stripe-layout.js';
import { abortError, raceAbort } from './streams.js';
import type { StripeCache } from './stripe-cache.js';
import type { LeasedBytes } from './types.js';

/** Where shard i is read from; `store` is undefined when the target is known to be down. */
export interface ShardSource {
  target: string;
  store: ShardStore | undefined;
  /**
   * Older places that may still hold the shard while a rebalance moves it (older layout epochs), newest
   * first: tried in order when `store` lacks it. A shard found at one of them is present, not damage.
   */
  fallbacks?: readonly ShardSource[];
}

/** The places of a shard in the order to try them: its target, then its fallbacks. */
export function placesOf(source: ShardSource): readonly ShardSource[] {
  return source.fallbacks && source.fallbacks.length > 0 ? [source, ...source.fallbacks] : [source];
}

/**
 * Runs `open` at the first of `places` that serves it. Fails with the first place's error when none
 * does, after asking the first place once more: a move may have finished between that first look and
 * the look at the older place it deleted. A remote open is lazy (a missing shard shows at the first
 * read), so `open` must include that read for a place without the shard to give way to the next.
 */
export async function openFirst<T>(places: readonly ShardSource[], open: (place: ShardSource) => Promise<T>): Promise<T> {
  let first: unknown;
  for (const place of places) {
    try {
      return await open(place);
    } catch (err) {
      if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
      first ??= err;
    }
  }
  if (places.length > 1) {
    try {
      return await open(places[0]!);
    } catch (err) {
      if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
    }
  }
  throw first;
}

/** Opens shard `shardIndex` of `blockId` at one place; a place known to be down fails ERR_SHARD_MISSING. */
export function openAt(place: ShardSource, blockId: string, shardIndex: number, options: { shardBytes: number; signal?: AbortSignal }): Promise<ShardReadHandle> {
  if (!place.store) return Promise.reject(new StoreError('ERR_SHARD_MISSING', `Drive "${place.target}" is missing`));
  return place.store.openShard({ blockId, shardIndex }, options);
}

export interface BlockReadPlan {
  blockId: string;
  codec: Codec;
  layout: StripeLayout;
  sources: ShardSource[];
  signal?: AbortSignal;
  /** Where direct stripe reads take their buffers; without one they allocate. */
  pool?: BufferPool;
  /** Open shard readers shared between reads; without it each read opens its own. */
  readerCache?: ShardReaderCache;
  /** Stripe reads in flight in the whole process, so many parallel GETs cannot pile up completions. */
  readBudget?: Semaphore;
  /** Checked stripes of hot blocks: a stripe kept there is answered from memory, without a read. */
  stripeCache?: StripeCache;
  /** Called once per shard found missing or corrupt during this read. */
  onDamage: (shardIndex: number, error: StoreError) => void;
}

/** Yields logical bytes [start, end) in order, reading ahead a bounded number of stripes. */
export async function* readBlock(plan: BlockReadPlan, start: number, end: number): AsyncGenerator<Buffer> {
  // The consumer cannot say when it is done with a buffer, so these are never released: the GC takes them.
  for await (const lease of readBlockLeased(plan, start, end)) yield* lease.pieces;
}

/**
 * Yields logical bytes [start, end) in order, one lease per stripe, reading ahead a bounded number of
 * stripes. The consumer releases each lease once nothing references its pieces any more (or never).
 */
export async function* readBlockLeased(plan: BlockReadPlan, start: number, end: number): AsyncGenerator<LeasedBytes> {
  const { layout, signal } = plan;
  assert(start >= 0 && start <= end && end <= layout.size, 'Read range out of bounds');
  if (start === end) return;
  const reader = new StripeReader(plan);
  const lastStripe = Math.floor((end - 1) / layout.stripeBytes);
  let nextStripe = Math.floor(start / layout.stripeBytes);
  const queue: Promise<LeasedBytes>[] = [];
  try {
    while (nextStripe <= lastStripe || queue.length > 0) {
      while (queue.length <= readAheadStripes && nextStripe <= lastStripe) {
        const stripe = nextStripe++;
        const kept = plan.stripeCache ? keptStripe(plan.stripeCache, plan, stripe, start, end) : undefined;
        if (kept) {
          queue.push(Promise.resolve(kept));
          continue;
        }
        const read = readWithin(plan.readBudget, signal, () => reader.readStripe(stripe, start, end));
        const pending = plan.stripeCache ? keepStripe(plan.stripeCache, plan, stripe, start, end, read) : read;
        pending.catch(() => undefined); // observed when its turn comes
        queue.push(pending);
      }
      yield await raceAbort(queue.shift() as Promise<LeasedBytes>, signal);
    }
  } finally {
    // Stripes read ahead but never handed out: once settled, nothing else holds their buffers.
    for (const r of await Promise.allSettled(queue)) if (r.status === 'fulfilled') r.value.release();
    await reader.close();
  }
}

/** The part of stripe `stripe` inside logical [start, end) from `cache`, when it keeps the stripe. */
function keptStripe(cache: StripeCache, plan: BlockReadPlan, stripe: number, start: number, end: number): LeasedBytes | undefined {
  const bytes = cache.get(plan.blockId, stripe);
  if (bytes === undefined) return undefined;
  const stripeStart = stripe * plan.layout.stripeBytes;
  // Cache entries are never reused for other bytes, so there is nothing to give back.
  return { pieces: [bytes.subarray(Math.max(start, stripeStart) - stripeStart, Math.min(end, stripeStart + bytes.length) - stripeStart)], release: () => undefined };
}

/**
 * `read` of a stripe missed in `cache`, with a copy of its bytes kept there when the read covers the whole
 * stripe and the cache wants it (its second miss lately). The copy is made before the lease goes out, so
 * the consumer's release cannot hand the pieces to another read first.
 */
async function keepStripe(cache: StripeCache, plan: BlockReadPlan, stripe: number, start: number, end: number, read: Promise<LeasedBytes>): Promise<LeasedBytes> {
  const { layout, blockId } = plan;
  const stripeStart = stripe * layout.stripeBytes;
  const stripeEnd = Math.min(stripeStart + layout.stripeBytes, layout.size);
  const whole = start <= stripeStart && end >= stripeEnd;
  if (!whole || !cache.wants(blockId, stripe, stripeEnd - stripeStart, layout.size)) return read;
  const lease = await read;
  const copy = Buffer.allocUnsafeSlow(stripeEnd - stripeStart);
  let at = 0;
  for (const piece of lease.pieces) at += piece.copy(copy, at);
  assert(at === copy.length, `Stripe ${stripe} of block "${blockId}" read ${at} of its ${copy.length} bytes`);
  cache.put(blockId, stripe, copy);
  return lease;
}

/** Runs `read` holding a permit of `budget`, when there is one; the permit is held for the I/O and CRC only, never while a consumer is slow. */
async function readWithin<T>(budget: Semaphore | undefined, signal: AbortSignal | undefined, read: () => Promise<T>): Promise<T> {
  if (!budget) return read();
  await budget.acquire(signal).catch(() => {
    throw abortError(signal!, 'Cannot wait for a stripe read'); // the one cancellation error of the store
  });
  try {
    return await read();
  } finally {
    budget.release();
  }
}

/** Reads stripes of one block, remembering which shards went bad so later stripes skip them. */
export class StripeReader {
  private readonly readers = new Map<number, Promise<CachedShardReader>>();
  /** Per shard: which of its places (placesOf's order, then the newest once more) `readers` reads from. */
  private readonly placeAt = new Map<number, number>();
  /** Readers of places given up for an older one; let go at close(). */
  private readonly leftPlaces: Promise<CachedShardReader>[] = [];
  /** Cached readers a read failed through, replaced by fresh ones; let go at close(). */
  private readonly retired: CachedShardReader[] = [];
  private readonly errors = new Map<number, StoreError>();
  private readonly shardBytes: number;
  /** Per shard, the in-order reader of this read's range of it (stores that stream a range), with the handle it came from. */
  private readonly inOrder = new Map<number, { handle: ShardReadHandle; reader: ShardRangeReader }>();

  /** `knownBad`: shards not to read at all (heal passes the ones it is rebuilding). */
  constructor(private readonly plan: BlockReadPlan, knownBad: ReadonlyMap<number, StoreError> = new Map()) {
    this.shardBytes = shardBytesOf(plan.layout);
    for (const [index, error] of knownBad) this.errors.set(index, error);
  }

  /** The pieces of stripe `stripe` inside logical [start, end), lent from the plan's pool when it has one. */
  async readStripe(stripe: number, start: number, end: number): Promise<LeasedBytes> {
    const pieces = piecesOf(this.plan.layout, stripe, start, end);
    if (pieces.every((p) => !this.errors.has(p.shardIndex))) {
      const offset = stripe * this.plan.layout.chunkBytes;
      const direct = await Promise.allSettled(
        pieces.map((p) => this.readShard(p.shardIndex, (r) => this.readRange(r, p.shardIndex, offset + p.chunkStart, offset + p.chunkEnd, start, end))),
      );
      const buffers = direct.flatMap((r) => (r.status === 'fulfilled' && r.value.buffer ? [r.value.buffer] : []));
      if (direct.every((r) => r.status === 'fulfilled')) {
        return leaseOf(direct.flatMap((r) => (r as PromiseFulfilledResult<{ pieces: Buffer[] }>).value.pieces), buffers, this.plan.pool);
      }
      leaseOf([], buffers, this.plan.pool).release(); // settled reads whose pieces are dropped here
      for (const r of direct) if (r.status === 'rejected' && !isStoreError(r.reason)) throw r.reason; // a bug, not damage
    }
    const decoded = await this.decodeStripe(stripe, pieces.map((p) => p.shardIndex));
    return leaseOf(pieces.map((p) => chunkOf(decoded, this.plan.codec.dataShards, p.shardIndex).subarray(p.chunkStart, p.chunkEnd)), [], undefined);
  }

  /**
   * Shard bytes [start, end) of a stripe within the logical read [from, to). A read spanning several
   * stripes reads each shard's part of it in order through readInOrder() where the store has it (one
   * streamed request per shard rather than one per stripe).
   */
  private readRange(reader: ShardReadHandle, shardIndex: number, start: number, end: number, from: number, to: number): Promise<{ pieces: Buffer[]; buffer?: Buffer }> {
    const { layout } = this.plan;
    const lastStripe = Math.floor((to - 1) / layout.stripeBytes);
    if (reader.readInOrder && lastStripe > Math.floor(from / layout.stripeBytes)) {
      let entry = this.inOrder.get(shardIndex);
      if (entry?.handle !== reader) {
        entry?.reader.close(); // a handle replaced after a failure: its stream goes with it
        const inLast = piecesOf(layout, lastStripe, from, to).find((p) => p.shardIndex === shardIndex);
        const rangeEnd = lastStripe * layout.chunkBytes + (inLast?.chunkEnd ?? 0);
        entry = { handle: reader, reader: reader.readInOrder(start, Math.max(end, rangeEnd)) };
        this.inOrder.set(shardIndex, entry);
      }
      return entry.reader.read(start, end).then((pieces) => ({ pieces }));
    }
    const pool = this.plan.pool;
    return pool ? reader.readPooled(start, end, pool) : reader.readPieces(start, end).then((pieces) => ({ pieces }));
  }

  /**
   * Reads whole chunks of `stripe` from healthy shards, data shards first, until k are present, then
   * rebuilds the `wanted` chunks that are absent. Returns the stripe with those filled in.
   */
  async decodeStripe(stripe: number, wanted: readonly number[]): Promise<StripeBuffers> {
    const { codec } = this.plan;
    const chunkBytes = chunkBytesOf(this.plan.layout, stripe);
    const buffers = allocStripe(codec, chunkBytes);
    const offset = stripe * this.plan.layout.chunkBytes;
    const present: number[] = [];
    const candidates = this.plan.sources.map((_, i) => i).filter((i) => !this.errors.has(i));
    while (present.length < codec.dataShards) {
      const batch = candidates.splice(0, codec.dataShards - present.length);
      if (batch.length === 0) throw this.unrecoverable(present.length);
      const results = await Promise.allSettled(
        batch.map(async (i) => {
          const pieces = await this.readShard(i, (r) => r.readPieces(offset, offset + chunkBytes));
          const chunk = chunkOf(buffers, codec.dataShards, i);
          let at = 0;
          for (const piece of pieces) at += piece.copy(chunk, at);
          return i;
        }),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') present.push(r.value);
        else if (!isStoreError(r.reason)) throw r.reason;
      }
    }
    const missing = wanted.filter((i) => !present.includes(i));
    await codec.reconstruct(buffers, present, missing);
    return buffers;
  }

  /** Shards known bad so far, with why. */
  get damaged(): ReadonlyMap<number, StoreError> {
    return this.errors;
  }

  async close(): Promise<void> {
    for (const { reader } of this.inOrder.values()) reader.close();
    const readers = await Promise.allSettled(this.readers.values());
    await Promise.all(readers.map((r) => (r.status === 'fulfilled' ? r.value.done() : undefined)));
    await Promise.all(this.retired.map((r) => r.done()));
    const left = await Promise.allSettled(this.leftPlaces);
    await Promise.all(left.map((r) => (r.status === 'fulfilled' ? r.value.done() : undefined)));
  }

  private async readShard<T>(shardIndex: number, read: (reader: ShardReadHandle) => Promise<T>): Promise<T> {
    try {
      return await this.readAnyPlace(shardIndex, read);
    } catch (err) {
      if (!isStoreError(err)) throw err; // a bug, not damage
      if (!this.errors.has(shardIndex)) {
        this.errors.set(shardIndex, err);
        this.plan.onDamage(shardIndex, err);
      }
      throw err;
    }
  }

  /**
   * Reads through the shard's current place. A remote open is lazy, so a place without the shard (its
   * newest target, before the rebalance copied it there) fails only here: the next older place is tried,
   * then the newest once more (the move may have finished meanwhile); the first place's error is thrown.
   */
  private async readAnyPlace<T>(shardIndex: number, read: (reader: ShardReadHandle) => Promise<T>): Promise<T> {
    const places = this.placesOfShard(shardIndex);
    const tries = places.length === 1 ? 1 : places.length + 1;
    let first: StoreError | undefined;
    for (;;) {
      const at = this.placeAt.get(shardIndex) ?? 0;
      try {
        return await this.readAtPlace(shardIndex, read);
      } catch (err) {
        if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
        first ??= err;
        if (at + 1 >= tries) throw first;
        // Stripes read in parallel: only the first to fail at this place moves the shard on.
        if ((this.placeAt.get(shardIndex) ?? 0) === at) {
          const current = this.readers.get(shardIndex);
          if (current) this.leftPlaces.push(current);
          this.readers.delete(shardIndex);
          this.placeAt.set(shardIndex, at + 1);
        }
      }
    }
  }

  private async readAtPlace<T>(shardIndex: number, read: (reader: ShardReadHandle) => Promise<T>): Promise<T> {
    const opening = this.openShard(shardIndex);
    const open = await opening;
    try {
      return await read(open.reader);
    } catch (err) {
      if (!open.cached || !isStoreError(err)) throw err;
      // The cached handle may be stale (a corrupt file heal has since replaced): stop sharing it and
      // try once more on a fresh open, so a cached handle never fails a read a fresh open would serve.
      open.drop();
      if (this.readers.get(shardIndex) === opening) {
        this.readers.delete(shardIndex);
        this.retired.push(open);
      }
      const again = await this.openShard(shardIndex);
      try {
        return await read(again.reader);
      } catch (retryErr) {
        again.drop(); // really damaged: no later read should start from this handle either
        throw retryErr;
      }
    }
  }

  private placesOfShard(shardIndex: number): readonly ShardSource[] {
    const source = this.plan.sources[shardIndex];
    assert(source !== undefined, `No source for shard ${shardIndex}`);
    return placesOf(source);
  }

  private openShard(shardIndex: number): Promise<CachedShardReader> {
    let reader = this.readers.get(shardIndex);
    if (!reader) {
      const places = this.placesOfShard(shardIndex);
      reader = this.openOne(places[(this.placeAt.get(shardIndex) ?? 0) % places.length]!, shardIndex);
      reader.catch(() => undefined);
      this.readers.set(shardIndex, reader);
    }
    return reader;
  }

  private openOne(place: ShardSource, shardIndex: number): Promise<CachedShardReader> {
    const { store } = place;
    const { blockId, readerCache } = this.plan;
    const shardBytes = this.shardBytes;
    // No signal: a cached open is shared with other requests, so one client leaving must not fail it.
    const open = () => store!.openShard({ blockId, shardIndex }, { shardBytes });
    if (!store) return Promise.reject(new StoreError('ERR_SHARD_MISSING', `Drive "${place.target}" is missing`));
    if (readerCache) return readerCache.acquire(shardCacheKey(store, blockId, shardIndex, shardBytes), blockId, open);
    return open().then(uncached);
  }

  /**
   * Too few shards. A single-shard block reports its shard's own error (ERR_SHARD_CORRUPT or
   * ERR_SHARD_MISSING); any other block has lost read quorum.
   */
  private unrecoverable(present: number): StoreError {
    const first = [...this.errors.values()][0];
    const single = this.plan.sources.length === 1 && first !== undefined;
    const code: StoreErrorCode = single ? first.code : 'ERR_QUORUM_UNREACHABLE';
    const needed = this.plan.codec.dataShards;
    return new StoreError(code, `Cannot read block "${this.plan.blockId}": ${present} of ${needed} needed shards readable`, {
      cause: first,
    });
  }
}

/** The reader cache's key of a shard: its target's key, then names derived only from the block id. */
export function shardCacheKey(store: ShardStore, blockId: string, shardIndex: number, shardBytes: number): string {
  return `${store.key}/${blockId}.${shardIndex}:${shardBytes}`;
}

/** A lease over `pieces`, which are views into `buffers`; release() gives the buffers back to `pool` once. */
function leaseOf(pieces: Buffer[], buffers: Buffer[], pool: BufferPool | undefined): LeasedBytes {
  let released = false;
  return {
    pieces,
    release: () => {
      if (released) return;
      released = true;
      if (pool) for (const buffer of buffers) pool.give(buffer);
    },
  };
}
