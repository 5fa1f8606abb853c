// What every object operation is given: the stores and the clock. Built once by the composition root.
import type { BlockStore, Redundancy } from '../blocks/types.js';
import type { MetaStore } from '../meta/types.js';
import type { KeyService } from '../kms/types.js';

export interface ObjectContext {
  meta: MetaStore;
  blocks: BlockStore;
  nowMs(): number;
  /** Delay before replaced data is deleted, so reads already streaming it can finish. */
  gcDelayMs: number;
  /** Objects at or below this many bytes are kept inline in the metadata. */
  inlineBytesMax: number;
  region: string;
  /** Redundancy for a storage class, when the bucket sets none; undefined: the block store's default. */
  redundancyFor?(storageClass: string): Redundancy | undefined;
  /**
   * Ids of blocks this process is writing now (added before the first shard, removed once the write
   * settles), so the orphan sweep never takes a live write's files however long its client stalls.
   */
  blocksInFlight?: Set<string>;
  /** The key service that wraps the data keys of SSE-S3 and SSE-KMS objects; set by serveStores. */
  kms?: KeyService;
  /** --default-encryption: 'AES256' makes SSE-S3 the default of every new object a bucket sets none for. */
  defaultEncryption?: 'AES256';
}
