// The seam between the block engine (writer, reader, healer, inventory) and the targets that hold shards.
// Local drives implement it in process (drive.ts, drive-set.ts); the node RPC client will implement it
// over HTTP, so every call is async, takes an AbortSignal, moves bounded buffers and fails with a StoreError.
import type { BufferPool } from './buffer-pool.js';

/** A target: one drive of one node. The single-node server's drives are all on node "local". */
export interface TargetName {
  node: string;
  drive: string;
}

/** One shard of one block: the only names a store ever turns into file names or URLs. */
export interface ShardName {
  blockId: string;
  shardIndex: number;
}

/** Options of every call. An aborted signal makes the call reject with ERR_ABORTED, as soon as it can. */
export interface ShardCallOptions {
  signal?: AbortSignal;
}

/** A shard being written: appended in order, then committed (durable under its name) or aborted (gone). */
export interface ShardWriteStream {
  /**
   * Appends shard bytes. The caller must not change `data` until the promise settles. `last` promises
   * that no append follows (a store may then finish the file in the same write); only commit() may.
   */
  append(data: Buffer, options?: ShardCallOptions & { last?: boolean }): Promise<void>;
  /** Makes the shard durable under its final name (tmp → fsync → rename → fsync dir); nothing is visible before. */
  commit(options?: ShardCallOptions): Promise<void>;
  /** Drops what was written. Safe after any failure and more than once; never rejects. */
  abort(): Promise<void>;
}

/** An open shard whose header matched what the caller expects. Every read verifies the checksum blocks it touches. */
export interface ShardReadHandle {
  /** Shard bytes [start, end) as views into one buffer. */
  readPieces(start: number, end: number, options?: ShardCallOptions): Promise<Buffer[]>;
  /**
   * readPieces() into a buffer taken from `pool`. The caller owns `buffer` and gives it back only once
   * nothing references `pieces`; on failure the store has given it back, or dropped it if it may still be
   * written to (a timed-out read). A store whose bytes arrive in buffers of their own (the node RPC
   * client) returns those, with a `buffer` that is not the pool's: give() ignores it.
   */
  readPooled(start: number, end: number, pool: BufferPool, options?: ShardCallOptions): Promise<{ pieces: Buffer[]; buffer: Buffer }>;
  /**
   * Optional: shard bytes [start, end) for a caller that will read them in order, in as many reads as it
   * likes (a GET, stripe after stripe). The node RPC client streams the range in one request instead of
   * one request per read; a store without it is read with readPieces().
   */
  readInOrder?(start: number, end: number): ShardRangeReader;
  /** Lets the shard go; never rejects. */
  close(): Promise<void>;
}

/** A shard range read in order (ShardReadHandle.readInOrder). */
export interface ShardRangeReader {
  /** Bytes [start, end), verified; any range may be asked, but only the next one in order is served from the stream. */
  read(start: number, end: number, options?: ShardCallOptions): Promise<Buffer[]>;
  /** Stops the stream; never throws. */
  close(): void;
}

/** A shard file a target holds; unfinished writes (tmp) are listed too, for the orphan sweep. */
export interface StoredShard {
  blockId: string;
  shardIndex: number;
  bytes: number;
  mtimeMs: number;
  tmp: boolean;
}

/** What a probe of a target found. */
export interface TargetHealth {
  /** 'missing': gone, unreadable, or another drive than the one expected. */
  state: 'ok' | 'missing';
  /** Capacity of the target's file system, when it could be read. */
  totalBytes?: number;
  freeBytes?: number;
}

/**
 * Shard I/O on one target. Errors are StoreErrors: ERR_SHARD_MISSING (absent, unreadable, or the target
 * is suspect), ERR_SHARD_CORRUPT (a checksum or header did not match), ERR_TARGET_TIMEOUT (no answer
 * within the target's timeout: every call is bounded), ERR_ABORTED (the caller's signal).
 */
export interface ShardStore {
  readonly target: TargetName;
  /** Names the target uniquely within this process, for caches keyed by shard. */
  readonly key: string;
  /**
   * True after a call timed out, until a probe answers in time. Callers skip a suspect target as missing
   * rather than wait on it; its calls (but probe) fail at once with ERR_SHARD_MISSING.
   */
  readonly suspect: boolean;
  /**
   * Starts a shard under a temporary name, checksummed in blocks of `blockBytes`. `fresh`: the block writer's
   * first write of a new block (ids are never reused), so no older copy of the shard can be on the target
   * and a store need not look for one to replace; heal and moves leave it unset.
   */
  createShard(shard: ShardName, options: ShardCallOptions & { blockBytes: number; fresh?: boolean }): Promise<ShardWriteStream>;
  /**
   * Opens a shard for verified range reads; it must hold exactly `shardBytes`, or the open fails
   * ERR_SHARD_CORRUPT (ERR_SHARD_MISSING when absent). A remote store defers that check to the first read
   * to save a round trip: callers treat a failure of the open and of its first read alike.
   */
  openShard(shard: ShardName, options: ShardCallOptions & { shardBytes: number }): Promise<ShardReadHandle>;
  /** The committed shard's file, or undefined when there is none. */
  statShard(shard: ShardName, options?: ShardCallOptions): Promise<StoredShard | undefined>;
  /** Removes one committed shard; an absent one is fine (deletes are idempotent). */
  deleteShard(shard: ShardName, options?: ShardCallOptions): Promise<void>;
  /** Removes every shard and tmp file of `blockId`, whatever its index (orphans, whose ref is lost); returns how many went. */
  deleteBlock(blockId: string, options?: ShardCallOptions): Promise<number>;
  /**
   * The inventory, one fan-out directory at a time so memory stays bounded: the two-hex-digit prefixes
   * in use at the top (`first` undefined) or under `first`, sorted.
   */
  listPrefixes(first: string | undefined, options?: ShardCallOptions): Promise<string[]>;
  /** The shard and tmp files of prefix `first`/`second`, sorted by name. */
  listShards(first: string, second: string, options?: ShardCallOptions): Promise<StoredShard[]>;
  /**
   * Whether the target answers as the drive it should be, and its capacity. `recheck`: the caller (heal,
   * rebalance) would rather wait one bounded probe than give a suspect target up: a suspect remote node is
   * then probed even beside an earlier probe still waiting (a local drive ignores it: a hung drive must
   * not get more threadpool calls).
   */
  probe(options?: ShardCallOptions & { recheck?: boolean }): Promise<TargetHealth>;
}

/** One target of a block store's layout. */
export interface TargetSlot {
  /** The id BlockRefs record. */
  id: string;
  name: TargetName;
  /** Where the target lives, for operators (a directory, later a node's address); '' when unknown. */
  where: string;
}

/**
 * The targets a block store can reach, and how to reach each; which of them hold a block's shards is the
 * layout's business (cluster/targetsFor), not theirs. The first implementation is the local drive set
 * (drive-set.ts); node clients will be the second.
 */
export interface ShardTargets {
  /** Every target of the layout, in a stable order. */
  readonly slots: readonly TargetSlot[];
  /** The store of target `id`; undefined while it cannot be reached at all (never opened, unknown). */
  storeOf(id: string): ShardStore | undefined;
  /**
   * Makes targets that came back empty (wiped or replaced) usable again under their old id, so heal can
   * refill them; returns their ids.
   */
  revive(): Promise<string[]>;
  /** Lets go of what the targets hold open (local drives: their pack index and open pack); the block store's close calls it. */
  closeTargets?(): Promise<void>;
}
