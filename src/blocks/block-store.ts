// LocalBlockStore: the BlockStore over a set of shard targets (today the local drives). It picks
// redundancy, placement and quorum, and hands the byte work to block-writer.ts / block-reader.ts; it
// reaches shards only through the ShardStore seam (shard-store.ts), never a concrete drive.
import { Readable } from 'node:stream';
import { StoreError } from '../util/errors.js';
import { codecById, codecFor, type Codec } from './codec/index.js';
import { placesOf as placesOfSource, readBlock, readBlockLeased, type BlockReadPlan, type ShardSource } from './block-reader.js';
import { moveBlockShards } from './block-mover.js';
import { shardPlaces } from './places.js';
import { writeBlock, type ShardFailure } from './block-writer.js';
import { checkBlockId, newBlockId } from './ids.js';
import { blockChecksumBytes } from './shard-format.js';
import { BufferPool } from './buffer-pool.js';
import { ShardReaderCache } from './shard-reader-cache.js';
import { shardBlockBytes, stripeTargetBytes } from './limits.js';
import { StripeCache, type StripeCacheStats } from './stripe-cache.js';
import { readPoolBlocksMax, readPoolIdleBytesMax, shardReaderIdleMsMax, shardReadersCachedMax, stripeReadsInFlightMax, writePoolBlocksMax, writePoolIdleBytesMax } from '../constants.js';
import { Semaphore } from '../util/semaphore.js';
import { targetsFor, type Layout } from '../cluster/index.js';
import { checkRedundancy, defaultRedundancyFor, readQuorumOf, shardCountOf, writeQuorumOf } from './redundancy.js';
import { domainLossesSurvived, failureDomainsOf, takingTargets, type FailureDomains } from './failure-domains.js';
import { fullChunkBytes, stripeLayout, type StripeLayout } from './stripe-layout.js';
import { abortError } from './streams.js';
import { healBlock, scrubBlock } from './block-healer.js';
import { countShards, listStoredBlocks } from './inventory.js';
import type { ShardStore, ShardTargets, TargetSlot } from './shard-store.js';
import type {
  BlockInventory,
  BlockMaintenance,
  BlockReadOptions,
  BlockRebalancing,
  BlockRef,
  BlockStore,
  BlockWalkOptions,
  BlockWriteOptions,
  DriveStatus,
  DriveSummary,
  HealResult,
  LeasedBytes,
  MoveResult,
  Redundancy,
  ShardCheck,
  ShardDamage,
  StoredBlock,
} from './types.js';

export type { ShardDamage };

export type DamageListener = (damage: ShardDamage) => void;

export interface LocalBlockStoreOptions {
  /** Read live: targets that follow the layout (remote nodes) may gain slots after construction. */
  targets: ShardTargets;
  /**
   * The layout history, oldest first: writes place by the newest epoch, reads of a block by the epoch it
   * was written under. Every epoch an existing block may name must be present. Empty (a gateway before
   * any node is assigned): writes fail ERR_NO_LAYOUT until setLayouts() gives one.
   */
  layouts: readonly Layout[];
  redundancy?: Redundancy;
  onDamage?: DamageListener;
  /** What opening the drives changed or found (see drive-set.ts), for the operator's log. */
  notes?: string[];
  /** close() closes the targets too (their pack indexes): set by openBlockStore, which opened them; a caller sharing them leaves it off. */
  ownsTargets?: boolean;
  /** Bytes of checked stripes of hot blocks kept in memory for object reads (StripeCache); 0 or unset keeps none. */
  readCacheBytes?: number;
}

/** Drive state is re-read at most this often on the write path (a stat and a small file per drive). */
const driveCheckIntervalMs = 2000;
/** How long a write waits for that look; probes slower than this (a hung node) finish in the background. */
const healthWaitMs = 1000;
/**
 * A suspect target whose recheck (heal, rebalance) found it still down is not rechecked again for this
 * long after that recheck started: a node that is really down then costs those calls one probe bound per
 * interval, not one per block (and each walk one more, see recheckSuspect).
 */
const recheckRetryMs = 60_000;
/** Walks (BlockWalkOptions.walk) whose start the store remembers; an older one forgotten gets one more recheck. */
const walksRememberedMax = 16;

/** A recheck of one suspect target in flight, and when it started. */
interface Recheck {
  startedMs: number;
  done: Promise<void>;
}

export class LocalBlockStore implements BlockStore, BlockMaintenance, BlockInventory, BlockRebalancing {
  private readonly targets: ShardTargets;
  private readonly ownsTargets: boolean;
  /** The newest epoch: where new blocks go; undefined while no layout places shards. */
  private layout: Layout | undefined;
  private layouts = new Map<number, Layout>();
  /** Drives the newest epoch gives shards to (active, with capacity, on an active node). */
  private taking = new Set<string>();
  /** Failure domains of the newest epoch (its nodes, or the drives of a one-node cluster). */
  private domains: FailureDomains = { count: 0, of: (id) => id };
  /** The redundancy the configuration asked for; undefined: the default for the newest epoch's domains. */
  private readonly configuredRedundancy: Redundancy | undefined;
  private redundancy: Redundancy = defaultRedundancyFor(0);
  /**
   * Every block is where this epoch (or a newer one it was written in) puts it: reads look no further
   * back. 0 until told (setSettledEpoch): every epoch down to the block's own is a candidate.
   */
  private settledEpoch = 0;
  private readonly listeners = new Set<DamageListener>();
  private readonly healthy = new Map<string, boolean>();
  /** Suspect targets whose probe runs in the background (refreshHealth). */
  private readonly probing = new Set<string>();
  /** The newest recheck of each suspect target in flight (recheckSuspect), shared by the blocks that wait for it. */
  private readonly rechecks = new Map<string, Recheck>();
  /** When the newest recheck that found a target still down started. */
  private readonly recheckFailedAtMs = new Map<string, number>();
  /** When the store first saw each recent walk (BlockWalkOptions.walk), oldest first. */
  private readonly walksSeenAtMs = new Map<string, number>();
  /** Looks are numbered as they start; per target, the number of the look whose answer `healthy` holds. */
  private lookCount = 0;
  private readonly lookAnswered = new Map<string, number>();
  private readonly corruptFound = new Map<string, number>();
  private checkedAtMs = 0;
  /** The look at the targets the write path started, while it runs. */
  private looking: Promise<void> | undefined;
  private closed = false;
  /** Open shard readers of object reads (never scrub or heal, which must see the file on the drive now). */
  private readonly readerCache = new ShardReaderCache({ entriesMax: shardReadersCachedMax, idleMsMax: shardReaderIdleMsMax });
  /** Stripe reads of object reads in flight at once, over every request (one per process). */
  private readonly readBudget = new Semaphore(stripeReadsInFlightMax);
  /** Stripe buffers of block writes (PUT, UploadPart), shared by every write of this store. */
  private readonly writePool = new BufferPool({ classBytes: shardBlockBytes, classesMax: writePoolBlocksMax, idleBytesMax: writePoolIdleBytesMax });
  /** Read buffers of GETs, shared by every read of this store (one per process), in shared memory for the checksum thread. */
  private readonly readPool = new BufferPool({
    classBytes: shardBlockBytes + blockChecksumBytes,
    classesMax: readPoolBlocksMax,
    idleBytesMax: readPoolIdleBytesMax,
    shared: true,
  });
  /** Checked stripes of hot blocks, answering object reads from memory (never scrub or heal, which must read the drives). */
  readonly stripeCache: StripeCache;
  /** What opening the drives changed or found: formatted, re-formatted (wiped) and missing drives. */
  readonly openNotes: readonly string[];

  constructor(options: LocalBlockStoreOptions) {
    this.targets = options.targets;
    this.configuredRedundancy = options.redundancy;
    this.stripeCache = new StripeCache(options.readCacheBytes ?? 0);
    this.setLayouts(options.layouts);
    if (options.onDamage) this.listeners.add(options.onDamage);
    this.openNotes = options.notes ?? [];
    this.ownsTargets = options.ownsTargets === true;
  }

  /** Every target the store can reach, read live from the targets (they follow the layout). */
  private get slots(): readonly TargetSlot[] {
    return this.targets.slots;
  }

  /**
   * Takes a new layout history (oldest first, as the constructor's): writes place by its newest epoch
   * from now on, reads find blocks by theirs. The targets must already reach every node it names.
   */
  setLayouts(layouts: readonly Layout[]): void {
    const newest = layouts[layouts.length - 1];
    if (newest && newest.width > 0) {
      // The default counts failure domains (nodes), not drives: 3 nodes of 2 drives get RS 2+1, one shard
      // per node, rather than 4+2 with two shards on each, which one lost node would make unreadable.
      const domains = failureDomainsOf(newest);
      const redundancy = checkRedundancy(this.configuredRedundancy ?? defaultRedundancyFor(Math.min(domains.count, newest.width)), newest.width);
      this.domains = domains;
      this.redundancy = redundancy;
      this.layout = newest;
      this.taking = takingTargets(newest);
    } else {
      this.layout = undefined;
      this.domains = { count: 0, of: (id) => id };
      this.taking = new Set();
    }
    this.layouts = new Map(layouts.map((layout) => [layout.epoch, layout]));
    // New targets count as present until the next look (as at start), which the next write makes at once.
    for (const slot of this.slots) if (!this.healthy.has(slot.id)) this.healthy.set(slot.id, this.targets.storeOf(slot.id) !== undefined);
    this.checkedAtMs = 0;
  }

  /** The epoch new blocks are written under; 0 while there is none. */
  currentEpoch(): number {
    return this.layout?.epoch ?? 0;
  }

  newId(): string {
    return newBlockId();
  }

  defaultRedundancy(): Redundancy {
    return this.redundancy;
  }

  /** Failure domains new blocks spread over (the newest epoch's nodes, or a lone node's drives), capped by its width. */
  failureDomainCount(): number {
    return this.layout ? Math.min(this.domains.count, this.layout.width) : 0;
  }

  /** Subscribes to shard damage (reads, degraded writes); returns the unsubscribe function. */
  onDamage(listener: DamageListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async write(source: Readable | AsyncIterable<Buffer>, options: BlockWriteOptions): Promise<BlockRef> {
    this.checkOpen();
    const id = checkBlockId(options.id);
    const layout = this.layout;
    if (!layout) throw new StoreError('ERR_NO_LAYOUT', `Cannot write block "${id}": the cluster has no layout yet (no node is assigned)`);
    const redundancy = checkRedundancy(options.redundancy ?? this.redundancy, layout.width);
    if (options.signal?.aborted) throw abortError(options.signal, `Cannot write block "${id}"`);
    await this.refreshHealth();
    const codec = codecFor(redundancy);
    // Computed, not chosen: a drive that is down keeps its shard slot, and the write is degraded (then healed).
    const targets = targetsFor(layout, id, shardCountOf(redundancy)).map((t) => t.id);
    const domains = targets.map((t) => this.domains.of(t));
    const spare = writeQuorumOf(redundancy) - readQuorumOf(redundancy);
    const stripeBytes = codec.dataShards * fullChunkBytes(stripeTargetBytes, codec.dataShards, codec.chunkAlignBytes);
    const { size, failed } = await writeBlock(
      {
        blockId: id,
        codec,
        stripeBytes,
        targets: targets.map((target, i) => ({ target, store: this.usableStore(target), where: this.whereOf(target), domain: domains[i]! })),
        quorum: writeQuorumOf(redundancy),
        // The spare shard stands for one lost node, as far as the placement allows (docs/architecture.md).
        domainLossesMin: Math.min(spare, domainLossesSurvived(domains, codec.dataShards)),
        signal: options.signal,
        pool: this.writePool,
      },
      source,
    ).catch((err: unknown) => {
      this.checkedAtMs = 0; // a failed write may mean a drive went away: look again next time
      throw err;
    });
    // No targets recorded: readers compute them from the id and the epoch (shared/design.md §5).
    const ref: BlockRef = { id, codec: codec.id, redundancy, size, stripeBytes, epoch: layout.epoch };
    this.reportWriteFailures(ref, targets, failed);
    // A newer epoch arrived while the shards streamed: the rebalance walk may already have passed this id,
    // so the block moves itself before its metadata commit. Only the layout follower's lag stays uncovered,
    // which the rebalance's write grace waits out (docs/architecture.md, "Rebalance").
    if (this.layout !== undefined && this.layout.epoch !== layout.epoch) {
      const moved = await this.moveBlock(ref, options.signal ? { signal: options.signal } : {});
      if (moved.shardsFailed > 0) {
        throw new StoreError('ERR_SHARD_MISSING', `Cannot write block "${id}": layout epoch ${this.layout.epoch} arrived during the write and ${moved.shardsFailed} of its shards could not move there`);
      }
    }
    return ref;
  }

  read(ref: BlockRef, options: BlockReadOptions): Readable {
    const { signal } = options;
    // Not pooled: a Readable's consumer cannot say when it is done with a buffer.
    const stream = Readable.from(readBlock(this.getPlan(ref, options, undefined), options.start, options.end), { objectMode: false });
    if (signal) {
      // The generator only notices an abort while it runs; a paused consumer must be cancelled too.
      const onAbort = () => stream.destroy(abortError(signal, `Cannot read block "${ref.id}"`));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return stream;
  }

  readLeased(ref: BlockRef, options: BlockReadOptions): AsyncIterable<LeasedBytes> {
    // Aborts reach the generator through raceAbort at each stripe; the consumer stops iterating on its own.
    return readBlockLeased(this.getPlan(ref, options, this.readPool), options.start, options.end);
  }

  /** The read plan of a GET of bytes [start, end), after checking the range. */
  private getPlan(ref: BlockRef, options: BlockReadOptions, pool: BufferPool | undefined): BlockReadPlan {
    this.checkOpen();
    const { codec, layout, places } = this.openRef(ref);
    const { start, end, signal } = options;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || start > end || end > ref.size) {
      throw new RangeError(`Cannot read bytes [${start}, ${end}) of block "${ref.id}" of ${ref.size} bytes`);
    }
    void this.refreshHealth(); // rate-limited; lets reads skip drives that vanished without waiting
    return { ...this.readPlan(ref, codec, layout, places, signal), readerCache: this.readerCache, readBudget: this.readBudget, stripeCache: this.stripeCache, ...(pool ? { pool } : {}) };
  }

  readCacheStats(): StripeCacheStats {
    return this.stripeCache.stats();
  }

  async delete(ref: BlockRef): Promise<void> {
    this.checkOpen();
    const id = checkBlockId(ref.id);
    // Every place a shard may be: while a rebalance moves the block, an older epoch's target may hold it.
    await Promise.all(
      this.openRef(ref).places.flatMap((places, shardIndex) =>
        places.map(async (target) => {
          // A missing drive holds nothing we can reach; GC of that drive's orphans catches it later.
          await this.targets.storeOf(target)?.deleteShard({ blockId: id, shardIndex }).catch(() => undefined);
        }),
      ),
    );
    // After the unlinks, so no read can cache the old files again: their space is freed now, not when
    // the entries age out. (A read still holding one finishes with the right bytes.)
    this.readerCache.invalidate(id);
    this.stripeCache.drop(id, Math.ceil(ref.size / ref.stripeBytes));
  }

  async scrub(ref: BlockRef, options: { signal?: AbortSignal } = {}): Promise<ShardCheck[]> {
    this.checkOpen();
    const { codec, layout, places } = this.openRef(ref);
    return this.cancellable(scrubBlock(this.readPlan(ref, codec, layout, places, options.signal)), ref, options.signal);
  }

  async heal(ref: BlockRef, options: BlockWalkOptions = {}): Promise<HealResult> {
    this.checkOpen();
    const { codec, layout, places, targets } = this.openRef(ref);
    // A node back from a network blip may still be suspect: probe it before giving its shards up.
    await this.recheckSuspect(places.flat(), options.walk);
    await this.refreshHealth(true);
    // Heal consumes damage rather than reporting it again: a healer listening to onDamage would
    // otherwise requeue the very block it is healing, forever when a shard's drive is missing.
    // It rebuilds onto the newest epoch's targets (each source's first place).
    const plan = { ...this.readPlan(ref, codec, layout, places, options.signal), onDamage: (i: number, e: StoreError) => this.countCorrupt(targets, i, e) };
    const work = async () => {
      try {
        return await healBlock(plan, await scrubBlock(plan));
      } finally {
        // Rewritten shards are new files: later reads must open them rather than a cached old one.
        this.readerCache.invalidate(ref.id);
      }
    };
    return this.cancellable(work(), ref, options.signal);
  }

  async moveBlock(ref: BlockRef, options: BlockWalkOptions = {}): Promise<MoveResult> {
    this.checkOpen();
    const { codec, layout, places } = this.openRef(ref);
    const shardsBlocked = this.blockedShards(ref, places);
    if (places.every((p) => p.length === 1)) return { shardsMoved: 0, shardsCopied: 0, shardsRebuilt: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked };
    await this.recheckSuspect(places.flat(), options.walk);
    await this.refreshHealth();
    const plan = this.readPlan(ref, codec, layout, places, options.signal);
    const work = async () => {
      try {
        return { ...(await moveBlockShards({ ...plan, places: plan.sources.map(placesOfSource) })), shardsBlocked };
      } finally {
        // Moved shards are at new places and the old files are gone: reads must open them afresh.
        this.readerCache.invalidate(ref.id);
      }
    };
    return this.cancellable(work(), ref, options.signal);
  }

  /**
   * For a health check: how many of the newest epoch's targets were up at the last look (looked at again
   * when stale, waiting at most briefly) against how many a write at the default redundancy needs.
   */
  async writeReadiness(): Promise<{ epoch: number; up: number; needed: number }> {
    this.checkOpen();
    await this.refreshHealth();
    const layout = this.layout;
    if (!layout) return { epoch: 0, up: 0, needed: 1 };
    const up = layout.targets.filter((t) => t.state !== 'removed' && this.isHealthy(t.id)).length;
    return { epoch: layout.epoch, up, needed: writeQuorumOf(this.redundancy) };
  }

  async driveStatus(): Promise<DriveStatus[]> {
    this.checkOpen();
    await this.refreshHealth(true);
    const stateOf = this.slotStates();
    return Promise.all(
      this.slots.map(async (slot): Promise<DriveStatus> => {
        const store = this.targets.storeOf(slot.id);
        const counted = { shardFiles: 0, bytes: 0 };
        // Every call is bounded, so a drive that stops answering mid-count makes it suspect, not the status hang.
        if (stateOf(slot.id) === 'ok' && store) Object.assign(counted, await countShards(store).catch(() => counted));
        return { id: slot.id, path: slot.where, state: stateOf(slot.id), ...counted, corruptFound: this.corruptFound.get(slot.id) ?? 0 };
      }),
    );
  }

  async driveSummaries(): Promise<DriveSummary[]> {
    this.checkOpen();
    await this.refreshHealth();
    const stateOf = this.slotStates();
    return Promise.all(
      this.slots.map(async (slot): Promise<DriveSummary> => {
        const store = this.targets.storeOf(slot.id);
        const state = stateOf(slot.id);
        // A probe is bounded by the drive's timeout, like the block store's own looks at its drives.
        const probed = state === 'ok' && store ? await store.probe().catch(() => undefined) : undefined;
        const capacity = probed?.totalBytes === undefined ? {} : { totalBytes: probed.totalBytes, ...(probed.freeBytes === undefined ? {} : { freeBytes: probed.freeBytes }) };
        return { id: slot.id, path: slot.where, state, corruptFound: this.corruptFound.get(slot.id) ?? 0, ...capacity };
      }),
    );
  }

  /**
   * A target's state as status and metrics show it: read each time it is asked (a count can make a drive
   * suspect). A target the newest epoch removed and that does not answer is 'removed', not 'missing'.
   */
  private slotStates(): (target: string) => DriveSummary['state'] {
    const removed = new Set(this.layout?.targets.filter((t) => t.state === 'removed').map((t) => t.id));
    return (target) => {
      const reachable = this.targets.storeOf(target)?.suspect ? 'suspect' : this.isHealthy(target) ? 'ok' : 'missing';
      return removed.has(target) && reachable !== 'ok' ? 'removed' : reachable;
    };
  }

  /** Re-reads every drive's state now, instead of within the next couple of seconds. */
  async refreshDrives(): Promise<void> {
    await this.refreshHealth(true);
  }

  /** The directory of a target (drive id), or '' when unknown. */
  slotPath(target: string): string {
    return this.slotOf(target)?.where ?? '';
  }

  /** The position of a target in the configured drive list. */
  slotIndex(target: string): number {
    return this.slots.findIndex((s) => s.id === target);
  }

  /**
   * Gives slots whose drive came back empty (directory recreated, no drive.json) their identity again,
   * so heal can refill them (see ShardTargets.revive).
   */
  async reviveDrives(): Promise<string[]> {
    this.checkOpen();
    const revived = await this.targets.revive();
    await this.recheckSuspect(this.slots.map((s) => s.id));
    await this.refreshHealth(true);
    return revived;
  }

  storedBlocks(options: { signal?: AbortSignal } = {}): AsyncIterable<StoredBlock> {
    this.checkOpen();
    return listStoredBlocks(this.reachableStores(), options.signal);
  }

  async deleteStored(id: string): Promise<number> {
    this.checkOpen();
    checkBlockId(id);
    const counts = await Promise.all(this.reachableStores().map((store) => store.deleteBlock(id).catch(() => 0)));
    this.readerCache.invalidate(id);
    return counts.reduce((a, b) => a + b, 0);
  }

  private reachableStores(): ShardStore[] {
    return this.slots.flatMap((slot) => {
      const store = this.targets.storeOf(slot.id);
      return store && this.isHealthy(slot.id) ? [store] : [];
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.readerCache.close();
    if (this.ownsTargets) await this.targets.closeTargets?.();
  }

  /**
   * The codec, geometry and shard places of a recorded block, checked so a bad ref fails loudly, not
   * with wrong bytes. `places[i]` lists where shard i may be, newest epoch first (see placesOf);
   * `targets[i]` is the first of them, where writes and heal put shard i.
   */
  private openRef(ref: BlockRef): { codec: Codec; layout: StripeLayout; places: string[][]; targets: readonly string[] } {
    checkBlockId(ref.id);
    const codec = codecById(ref.codec, ref.redundancy);
    const shards = codec.dataShards + codec.parityShards;
    const places = this.placesOf(ref, shards);
    if (places.length !== shards) {
      throw new RangeError(`Block "${ref.id}" lists ${places.length} targets for ${shards} shards`);
    }
    const layout = stripeLayout({ size: ref.size, dataShards: codec.dataShards, stripeBytes: ref.stripeBytes, alignBytes: codec.chunkAlignBytes });
    return { codec, layout, places, targets: places.map((p) => p[0]!) };
  }

  /** The drive ids of a block's shards in the newest epoch, where reads look first and heal rebuilds. */
  targetsOf(ref: BlockRef): readonly string[] {
    return this.openRef(ref).targets;
  }

  /** Every target that may hold each shard of `ref`, newest epoch first (shared/design.md §5). */
  placesOfRef(ref: BlockRef): readonly (readonly string[])[] {
    return this.openRef(ref).places;
  }

  /**
   * Declares that every block is where epoch `epoch` puts it (a rebalance finished moving them): reads,
   * heal and deletes stop looking at older epochs' targets. Lowering it is safe (reads look further).
   */
  setSettledEpoch(epoch: number): void {
    if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`Cannot settle layout epoch "${epoch}": expected a non-negative integer`);
    this.settledEpoch = epoch;
  }

  /**
   * Shards of `ref` no move can place: the newest epoch is narrower than the block (it is left at the
   * places of the newest epoch wide enough, see places.ts), and they sit on a drive that epoch gives no
   * shards to, so a drain of that drive's node cannot finish.
   */
  private blockedShards(ref: BlockRef, places: readonly (readonly string[])[]): number {
    if (!this.layout || ref.targets || places.length <= this.layout.width) return 0;
    return places.filter((p) => !this.taking.has(p[0]!)).length;
  }

  /** The epoch reads settle on (0: none yet, every block is looked for down to its own epoch). */
  settled(): number {
    return this.settledEpoch;
  }

  /** The stored layout epochs, oldest first; the last is where new blocks go. */
  layoutEpochs(): number[] {
    return [...this.layouts.keys()].sort((a, b) => a - b);
  }

  private placesOf(ref: BlockRef, shards: number): string[][] {
    if (!this.layout) throw new StoreError('ERR_NO_LAYOUT', `Cannot find block "${ref.id}": the cluster has no layout`);
    return shardPlaces({ layouts: this.layouts, newest: this.layout, settledEpoch: this.settledEpoch }, ref, shards);
  }

  private readPlan(ref: BlockRef, codec: Codec, layout: StripeLayout, places: readonly (readonly string[])[], signal: AbortSignal | undefined): BlockReadPlan {
    const targets = places.map((p) => p[0]!);
    return {
      blockId: ref.id,
      codec,
      layout,
      // A drive known to be missing is not even tried: its directory may hang, and it holds nothing.
      sources: places.map((p) => this.sourceOf(p)),
      signal,
      onDamage: (shardIndex: number, error: StoreError) => this.reportReadDamage(ref, targets, shardIndex, error),
    };
  }

  /** Shard i's source: its newest place, with the older ones as fallbacks when there are any. */
  private sourceOf(places: readonly string[]): ShardSource {
    const [target, ...older] = places as [string, ...string[]];
    const source: ShardSource = { target, store: this.usableStore(target) };
    if (older.length > 0) source.fallbacks = older.map((t) => ({ target: t, store: this.usableStore(t) }));
    return source;
  }

  /** Maps an abort during `work` to ERR_ABORTED, the one cancellation error of the store. */
  private async cancellable<T>(work: Promise<T>, ref: BlockRef, signal: AbortSignal | undefined): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (signal?.aborted) throw abortError(signal, `Cannot finish work on block "${ref.id}"`);
      throw err;
    }
  }

  private slotOf(target: string): TargetSlot | undefined {
    return this.slots.find((s) => s.id === target);
  }

  private countCorrupt(targets: readonly string[], shardIndex: number, error: StoreError): void {
    const target = targets[shardIndex];
    if (error.code === 'ERR_SHARD_CORRUPT' && target) this.corruptFound.set(target, (this.corruptFound.get(target) ?? 0) + 1);
  }

  private emitDamage(damage: ShardDamage): void {
    if (damage.reason === 'corrupt') this.corruptFound.set(damage.target, (this.corruptFound.get(damage.target) ?? 0) + 1);
    for (const listener of this.listeners) {
      try {
        listener(damage);
      } catch {
        // A listener's bug must not fail the read or write that found the damage.
      }
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError('ERR_CLOSED', 'Cannot use a closed block store');
  }

  /** Re-reads each drive's identity when the last look is stale, so writes avoid drives that vanished. */
  private async refreshHealth(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.checkedAtMs < driveCheckIntervalMs) return;
    this.checkedAtMs = now;
    if (force) return this.lookAtTargets(force);
    // A look still running (a probe of a hung node waits out its RPC timeout) is not started again, and a
    // write waits for a new one only briefly: the probes that answer late still update the health map,
    // while the write goes on with what is known (a target that hangs fails its shard by its own timeout).
    if (this.looking) return;
    const look = this.lookAtTargets(false).finally(() => (this.looking = undefined));
    this.looking = look;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([look, new Promise<void>((resolve) => (timer = setTimeout(resolve, healthWaitMs)))]);
    clearTimeout(timer);
  }

  /** Probes every target and records what it found. */
  private async lookAtTargets(force: boolean): Promise<void> {
    await Promise.all(
      this.slots.map(async (slot) => {
        const store = this.targets.storeOf(slot.id);
        // A suspect target (a call to it timed out: a hung node or drive) is not waited for: its probe
        // would cost every write the whole timeout again at each look. It is probed in the background,
        // one probe at a time, and stays skipped until a probe answers.
        if (store?.suspect) return this.probeInBackground(slot.id, store);
        await this.look(slot.id, store, force);
      }),
    );
  }

  private async look(target: string, store: ShardStore | undefined, force: boolean, recheck = false): Promise<void> {
    // A probe is bounded by the drive's timeout, and fails at once while an earlier probe is still stuck
    // (unless it is a recheck of a remote node, which runs on a connection of its own).
    const look = ++this.lookCount;
    const healthy = store !== undefined && (await store.probe(recheck ? { recheck } : {}).catch(() => undefined))?.state === 'ok';
    // A look that started earlier and answered later (a probe sent during a partition, timing out after a
    // recheck found the node back) is older news: it must not mark the target down again.
    if ((this.lookAnswered.get(target) ?? 0) > look) return;
    this.lookAnswered.set(target, look);
    this.healthy.set(target, healthy);
    // Cached readers would keep serving a drive that was removed or swapped (open descriptors outlive
    // the directory), hiding its loss from damage reports and holding its files open.
    if (store && (!healthy || force)) this.readerCache.invalidateUnder(store.key);
  }

  /**
   * Gives each suspect target among `targets` one bounded probe of its own (beside any probe of it still
   * waiting, which may be stuck on a connection a partition killed) and waits for it: heal and rebalance
   * run right after a network blip must not count a node that answers again as lost. Concurrent callers
   * share a recheck; one that found the target down is not repeated for recheckRetryMs. Except for a walk
   * (`walk`, named by its caller) that began after that recheck started: a heal or rebalance run once a
   * cut healed must not inherit the verdict of a background heal's recheck made during the cut, while the
   * node's own background probe may take a while yet to clear it. So a node that is really down costs each
   * walk one probe bound more, not one per block.
   */
  private async recheckSuspect(targets: readonly string[], walk?: string): Promise<void> {
    const nowMs = Date.now();
    // A recheck that started before the walk (failed, or still waiting on a connection the cut may have
    // killed) says nothing of the network the walk sees; one the walk started or joined does.
    const sinceMs = walk === undefined ? Number.NEGATIVE_INFINITY : this.walkSeenAtMs(walk, nowMs);
    const waits: Promise<void>[] = [];
    for (const target of new Set(targets)) {
      const store = this.targets.storeOf(target);
      if (!store?.suspect) continue;
      const running = this.rechecks.get(target);
      if (running && running.startedMs >= sinceMs) {
        waits.push(running.done);
        continue;
      }
      const failedMs = this.recheckFailedAtMs.get(target);
      if (failedMs !== undefined && failedMs >= sinceMs && nowMs - failedMs < recheckRetryMs) continue;
      waits.push(this.startRecheck(target, store, nowMs));
    }
    await Promise.all(waits);
  }

  /** Probes suspect `target` on its own (see recheckSuspect), as the newest recheck of it. */
  private startRecheck(target: string, store: ShardStore, startedMs: number): Promise<void> {
    const done = this.look(target, store, false, true)
      .then(() => {
        if (this.isHealthy(target)) {
          this.recheckFailedAtMs.delete(target);
          this.checkedAtMs = 0; // the node's other drives were looked at while it was suspect: look again
        } else {
          // An older recheck ending after a newer one failed must not shorten the newer one's interval.
          this.recheckFailedAtMs.set(target, Math.max(startedMs, this.recheckFailedAtMs.get(target) ?? startedMs));
        }
      })
      .finally(() => {
        if (this.rechecks.get(target) === recheck) this.rechecks.delete(target);
      });
    const recheck: Recheck = { startedMs, done };
    this.rechecks.set(target, recheck);
    return done;
  }

  /** When the store first saw `walk` (now, if it has not): the walk's rechecks are those started since. */
  private walkSeenAtMs(walk: string, nowMs: number): number {
    const seenMs = this.walksSeenAtMs.get(walk);
    if (seenMs !== undefined) return seenMs;
    this.walksSeenAtMs.set(walk, nowMs);
    if (this.walksSeenAtMs.size > walksRememberedMax) this.walksSeenAtMs.delete(this.walksSeenAtMs.keys().next().value!);
    return nowMs;
  }

  private probeInBackground(target: string, store: ShardStore): void {
    if (this.probing.has(target)) return;
    this.probing.add(target);
    void this.look(target, store, false).finally(() => this.probing.delete(target));
  }

  /** Known present at the last look and not suspect since: a timed-out drive is skipped at once, not at the next look. */
  private isHealthy(target: string): boolean {
    return this.healthy.get(target) === true && this.targets.storeOf(target)?.suspect !== true;
  }

  private usableStore(target: string): ShardStore | undefined {
    return this.isHealthy(target) ? this.targets.storeOf(target) : undefined;
  }

  private whereOf(target: string): string {
    return this.slots.find((s) => s.id === target)?.where ?? '';
  }

  private reportWriteFailures(ref: BlockRef, targets: readonly string[], failed: ShardFailure[]): void {
    for (const f of failed) this.emitDamage({ ref, shardIndex: f.shardIndex, target: targets[f.shardIndex] ?? f.target, reason: 'write-failed', error: f.error });
  }

  private reportReadDamage(ref: BlockRef, targets: readonly string[], shardIndex: number, error: StoreError): void {
    const target = targets[shardIndex] ?? '?';
    const reason = error.code === 'ERR_SHARD_CORRUPT' ? 'corrupt' : 'missing';
    this.emitDamage({ ref, shardIndex, target, reason, error });
  }
}
