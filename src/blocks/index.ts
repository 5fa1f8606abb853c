// The block layer's entry point: open a store over drive directories. Everything else here is internal.
import { LocalBlockStore, type DamageListener } from './block-store.js';
import { openDriveSet } from './drive-set.js';
import type { Redundancy } from './types.js';
import { driveOpsInFlightMax, driveOpTimeoutMs } from '../constants.js';

export { LocalBlockStore, type DamageListener, type ShardDamage } from './block-store.js';
export type { ShardStore, ShardTargets, TargetName } from './shard-store.js';
export { defaultRedundancyFor, writeQuorumOf } from './redundancy.js';
export { placeShards, rebalanceTargets, type PlacementLayout, type PlacementTarget } from './placement.js';
export type * from './types.js';

/**
 * Opens (creating when new) the drives at `drives` and a block store over them. With one drive and no
 * redundancy given, blocks are stored as one copy, codec "rep-v1".
 */
export async function openBlockStore(options: {
  drives: string[];
  redundancy?: Redundancy;
  onDamage?: DamageListener;
  /** A drive call slower than this fails and the drive is skipped until it answers again (default driveOpTimeoutMs). */
  driveTimeoutMs?: number;
}): Promise<LocalBlockStore> {
  if (options.drives.length === 0) throw new RangeError('Cannot open a block store without drives');
  const { driveTimeoutMs } = options;
  if (driveTimeoutMs !== undefined && !(Number.isSafeInteger(driveTimeoutMs) && driveTimeoutMs > 0)) {
    throw new RangeError(`Cannot use a drive timeout of "${driveTimeoutMs}" ms: expected a positive integer`);
  }
  const set = await openDriveSet(options.drives, { timeoutMs: driveTimeoutMs ?? driveOpTimeoutMs, inFlightMax: driveOpsInFlightMax });
  return new LocalBlockStore({
    targets: set,
    redundancy: options.redundancy,
    onDamage: options.onDamage,
    notes: set.notes,
  });
}
