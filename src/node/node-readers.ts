// The node's cache of open, header-checked shard files, so a range read does not open, read the header
// of, fstat and close its file every time (blocks/shard-reader-cache.ts says why a cached descriptor
// never serves other bytes than a fresh open). Bounded, closed when idle, dropped on delete and rewrite.
import type { LocalDrive } from '../blocks/drive.js';
import type { ShardReader } from '../blocks/shard-file.js';
import { ShardReaderCache, uncached, type CachedShardReader } from '../blocks/shard-reader-cache.js';
import type { ShardName } from '../blocks/shard-store.js';
import { shardReaderIdleMsMax } from '../constants.js';

/** Shard files a node keeps open between reads: one descriptor each, well below a default fd limit of 1,024. */
export const nodeShardReadersCachedMax = 256;

export class NodeReaders {
  private readonly cache = new ShardReaderCache<ShardReader>({ entriesMax: nodeShardReadersCachedMax, idleMsMax: shardReaderIdleMsMax });

  /**
   * The open reader of `shard`, from the cache or opened now. No signal: a cached open is shared by
   * requests, so one client leaving must not fail it.
   */
  acquire(drive: LocalDrive, shard: ShardName, shardBytes: number): Promise<CachedShardReader<ShardReader>> {
    const key = `${drive.id}/${shard.blockId}.${shard.shardIndex}/${shardBytes}`;
    return this.cache.acquire(key, shard.blockId, () => drive.openShard(shard, { shardBytes }));
  }

  /** A reader opened outside the cache, closed when its use is done. */
  fresh(reader: ShardReader): CachedShardReader<ShardReader> {
    return uncached(reader);
  }

  /** The block's shards were deleted or rewritten here. */
  invalidate(blockId: string): void {
    this.cache.invalidate(blockId);
  }

  /** The drive went missing or was swapped. */
  invalidateDrive(driveId: string): void {
    this.cache.invalidateUnder(driveId);
  }

  get size(): number {
    return this.cache.size;
  }

  close(): void {
    this.cache.close();
  }
}
