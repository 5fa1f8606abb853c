// The block layer's entry point: open a store over drive directories. Everything else here is internal.
import type { Layout } from '../cluster/index.js';
import { LocalBlockStore, type DamageListener } from './block-store.js';
import { openDriveSet, type LocalDriveSet } from './drive-set.js';
import { nextLocalLayout, type LocalDriveInfo } from './local-layout.js';
import type { Redundancy } from './types.js';
import { driveOpsInFlightMax, driveOpTimeoutMs } from '../constants.js';

export { LocalBlockStore, type DamageListener, type ShardDamage } from './block-store.js';
export type { ShardStore, ShardTargets, TargetName } from './shard-store.js';
export { defaultRedundancyFor, writeQuorumOf } from './redundancy.js';
export { localDrivesOf, nextLocalLayout, type LocalDriveInfo } from './local-layout.js';
export { localNode } from './drive.js';
export type * from './types.js';

/** Where the block store's layout history comes from: the MetaStore (src/objects/layouts.ts), or memory. */
export interface LayoutSource {
  /** The drives the newest stored layout gives this node; undefined while none is stored. */
  knownDrives?: readonly string[];
  /** The layout history, oldest first, once it lays out `drives` (storing a new epoch when it did not). */
  settle(drives: readonly LocalDriveInfo[]): Promise<readonly Layout[]>;
}

/**
 * A layout kept in memory only, for tests and tools without metadata: recomputed from the drives at each
 * open, so blocks stay readable only while the drives stay the same. 256 partitions keep that cheap.
 */
export const memoryLayoutSource: LayoutSource = {
  settle: async (drives) => [nextLocalLayout(undefined, drives.map((d) => ({ id: d.id, capacity: 1 })), { partitionCount: 256 })!],
};

/**
 * Opens (creating when new) the drives at `drives` and a block store over them, placing by the layout
 * `layouts` settles on (default: memoryLayoutSource). With one drive and no redundancy given, blocks are
 * stored as one copy, codec "rep-v1".
 */
export async function openBlockStore(options: {
  drives: string[];
  layouts?: LayoutSource;
  redundancy?: Redundancy;
  onDamage?: DamageListener;
  /** A drive call slower than this fails and the drive is skipped until it answers again (default driveOpTimeoutMs). */
  driveTimeoutMs?: number;
  /** Bytes of checked stripes kept in memory for object reads (LocalBlockStoreOptions.readCacheBytes). */
  readCacheBytes?: number;
}): Promise<LocalBlockStore> {
  if (options.drives.length === 0) throw new RangeError('Cannot open a block store without drives');
  const { driveTimeoutMs } = options;
  if (driveTimeoutMs !== undefined && !(Number.isSafeInteger(driveTimeoutMs) && driveTimeoutMs > 0)) {
    throw new RangeError(`Cannot use a drive timeout of "${driveTimeoutMs}" ms: expected a positive integer`);
  }
  const source = options.layouts ?? memoryLayoutSource;
  const set = await openDriveSet(options.drives, { timeoutMs: driveTimeoutMs ?? driveOpTimeoutMs, inFlightMax: driveOpsInFlightMax }, source.knownDrives);
  const layouts = await source.settle(await driveCapacities(set));
  return new LocalBlockStore({
    targets: set,
    layouts,
    redundancy: options.redundancy,
    onDamage: options.onDamage,
    notes: set.notes,
    ownsTargets: true,
    ...(options.readCacheBytes ? { readCacheBytes: options.readCacheBytes } : {}),
  });
}

const GiB = 1024 ** 3;

/** Each slot's capacity weight: its file system's size in GiB (at least 1); a drive that cannot say gets the largest. */
async function driveCapacities(set: LocalDriveSet): Promise<LocalDriveInfo[]> {
  const sizes = await Promise.all(
    set.slots.map(async (slot) => {
      const health = await set.storeOf(slot.id)?.probe().catch(() => undefined);
      return health?.totalBytes !== undefined ? Math.max(1, Math.round(health.totalBytes / GiB)) : undefined;
    }),
  );
  const fallback = Math.max(1, ...sizes.filter((s): s is number => s !== undefined));
  return set.slots.map((slot, i) => ({ id: slot.id, capacity: sizes[i] ?? fallback }));
}
