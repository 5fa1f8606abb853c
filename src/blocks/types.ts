// The block layer's contract with the object layer. Objects hand it a byte stream and get back a
// BlockRef to record in metadata; everything about shards, codecs, drives and placement stays below.
import type { Readable } from 'node:stream';
import type { StripeCacheStats } from './stripe-cache.js';

export type Redundancy =
  | { kind: 'replicate'; copies: number } // n full copies; copies=1 is a single drive, no redundancy
  | { kind: 'rs'; data: number; parity: number }; // Reed-Solomon k+m

/**
 * What the metadata records about one immutable block (an object version's data, or one multipart part).
 * It holds everything needed to read, verify, heal and delete the data, so objects written under
 * different codecs or layouts coexist.
 */
export interface BlockRef {
  /** Fresh random id (hex); shard file names derive from it, never from a key. */
  id: string;
  /** Codec id and version, e.g. "rs-v1" or "rep-v1": a codec change never strands data. */
  codec: string;
  redundancy: Redundancy;
  /** Logical (object) bytes stored. */
  size: number;
  /** Logical bytes per stripe. */
  stripeBytes: number;
  /**
   * Target (drive) id holding shard i: recorded only by releases before the layout was stored in the
   * metadata. Blocks written since record none; shard i lives on the i-th target of the block's
   * partition in layout epoch `epoch` (cluster/targetsFor).
   */
  targets?: string[];
  /** Layout epoch the block was written under: its shards' targets are computed from it. */
  epoch: number;
}

export interface BlockWriteOptions {
  id: string;
  /** Undefined: the store's default for the bucket/cluster. */
  redundancy?: Redundancy;
  signal?: AbortSignal;
}

export interface BlockReadOptions {
  /** First logical byte, inclusive. */
  start: number;
  /** Last logical byte, exclusive. */
  end: number;
  signal?: AbortSignal;
}

/**
 * Bytes lent by the store. `release()` hands their memory back for reuse by other reads, so call it
 * only once nothing references `pieces` any more (for a socket: after the write's callback reported
 * success). Never calling it is always safe; calling it early lets another read overwrite the bytes.
 */
export interface LeasedBytes {
  readonly pieces: readonly Buffer[];
  release(): void;
}

export interface BlockStore {
  /** A fresh random block id. */
  newId(): string;
  /**
   * Streams `source` into shards. Resolves only once every shard the write quorum needs is durable
   * (fsynced); rejects with StoreError ERR_QUORUM_UNREACHABLE below quorum. On rejection, whatever was
   * written is left for GC (or removed best-effort).
   */
  write(source: Readable | AsyncIterable<Buffer>, options: BlockWriteOptions): Promise<BlockRef>;
  /** Streams logical bytes [start, end) of the block, verifying every shard block's checksum. */
  read(ref: BlockRef, options: BlockReadOptions): Readable;
  /** read() as leases, one per stripe, whose memory the consumer returns: what GET uses to avoid GC. */
  readLeased(ref: BlockRef, options: BlockReadOptions): AsyncIterable<LeasedBytes>;
  /** Deletes every shard of the block (idempotent; missing shards are fine). */
  delete(ref: BlockRef): Promise<void>;
  /** Redundancy used when a write names none. */
  defaultRedundancy(): Redundancy;
  /** What the cache of checked stripes holds and did, for metrics; absent in stores without one. */
  readCacheStats?(): StripeCacheStats;
  close(): Promise<void>;
}

// Additions for healing and status (block layer, issue #3). Only additive: BlockStore is unchanged.

/** A shard found missing or corrupt by a read or scrub, or left unwritten by a degraded write: heal it. */
export interface ShardDamage {
  ref: BlockRef;
  shardIndex: number;
  target: string;
  reason: 'missing' | 'corrupt' | 'write-failed';
  error: unknown;
}

/** What scrub found for one shard of a block. */
export interface ShardCheck {
  shardIndex: number;
  target: string;
  state: 'ok' | 'missing' | 'corrupt';
  error?: unknown;
}

export interface HealResult {
  id: string;
  /** Shards rewritten from the others. Empty when the block was already whole. */
  rebuilt: { shardIndex: number; target: string }[];
  /** Bad shards that could not be rewritten (their drive is missing), with why. */
  skipped: { shardIndex: number; target: string; reason: string }[];
}

/** A drive as a probe sees it: cheap to read, nothing listed. */
export interface DriveSummary {
  id: string;
  path: string;
  /**
   * 'suspect': a call to the drive timed out and no probe has answered in time since. 'removed': the
   * newest layout epoch removed it (its node left the cluster); it is listed while older epochs name it.
   */
  state: 'ok' | 'missing' | 'suspect' | 'removed';
  /** Corrupt shard blocks this process has met on the drive (reads and scrubs). */
  corruptFound: number;
  /** The capacity of the drive's file system, when its probe could read it. */
  totalBytes?: number;
  freeBytes?: number;
}

/** A drive with its shard files counted: a walk of the whole drive, for admin status only. */
export interface DriveStatus extends DriveSummary {
  shardFiles: number;
  bytes: number;
}

/** Options of a heal or move of one block. */
export interface BlockWalkOptions {
  signal?: AbortSignal;
  /**
   * Names the walk the call is part of (a heal pass, a rebalance walk), the same for each of its blocks.
   * Each walk gets one recheck of its own of a suspect target, even within the retry interval of a recheck
   * that failed before the walk began (a background heal's, during the network cut the walk follows);
   * later blocks of the walk keep to that interval. Without it, a call shares the store's rechecks.
   */
  walk?: string;
}

/** What the healer, scrubber and admin status need from a block store besides reads and writes. */
export interface BlockMaintenance {
  /** Verifies every checksum of every shard of the block. Reports damage like a read does. */
  scrub(ref: BlockRef, options?: { signal?: AbortSignal }): Promise<ShardCheck[]>;
  /** Rebuilds missing or corrupt shards onto their targets; a second call finds nothing to do. */
  heal(ref: BlockRef, options?: BlockWalkOptions): Promise<HealResult>;
  driveStatus(): Promise<DriveStatus[]>;
  /** Each drive's state and capacity from a probe, without listing its shards (for metrics). */
  driveSummaries(): Promise<DriveSummary[]>;
  /** Subscribes to shard damage; returns the unsubscribe function. */
  onDamage(listener: (damage: ShardDamage) => void): () => void;
  /** Re-formats drives that came back empty (wiped or replaced) under their old id; returns their ids. */
  reviveDrives(): Promise<string[]>;
}

/** The shard files of one block id found on the drives, for the orphan sweep. */
export interface StoredBlock {
  id: string;
  /** Shard files and unfinished (tmp) files together, across drives. */
  files: number;
  bytes: number;
  /** mtime of the newest file: a block younger than the grace period may still be being written. */
  newestMtimeMs: number;
}

/** Listing what the drives hold, so GC can find blocks no metadata references (crash orphans). */
export interface BlockInventory {
  /** Every block id with files on a reachable drive, in id order; memory stays bounded by one fan-out dir. */
  storedBlocks(options?: { signal?: AbortSignal }): AsyncIterable<StoredBlock>;
  /** Deletes every shard and tmp file of `id` on every reachable drive; returns how many files went. */
  deleteStored(id: string): Promise<number>;
}

/** What moving one block to the newest epoch's targets did (rebalance). A shard counts once, copied or rebuilt. */
export interface MoveResult {
  /** Shards now at their newest target that were not before (copied or rebuilt). */
  shardsMoved: number;
  shardsCopied: number;
  shardsRebuilt: number;
  bytesMoved: number;
  /** Shards left where they were: the new target is down, or neither the holder nor k others could be read. */
  shardsFailed: number;
  /**
   * Shards that cannot move at all: the newest epoch lists fewer targets per partition than the block's
   * width (a drain left fewer nodes than RS k+m needs), and they sit on a drive it gives no shards to (a
   * draining or removed node's). They stay there until a wider epoch comes.
   */
  shardsBlocked: number;
}

/** What the rebalance worker needs from a block store: the epochs, the settled one, and moving a block. */
export interface BlockRebalancing {
  /** The stored layout epochs, oldest first; the last is where new blocks go. */
  layoutEpochs(): number[];
  /** Every block is where this epoch puts it: reads stop looking at older epochs. */
  setSettledEpoch(epoch: number): void;
  /** Moves the block's misplaced shards to the newest epoch's targets (idempotent). */
  moveBlock(ref: BlockRef, options?: BlockWalkOptions): Promise<MoveResult>;
}
