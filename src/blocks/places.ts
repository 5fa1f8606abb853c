// Where the shards of a block may be: the newest layout epoch's targets first, then older epochs' down to
// the settled one (shared/design.md §5: reads fall back while a rebalance moves data). Pure, over cluster/.
import { targetsFor, type Layout } from '../cluster/index.js';
import { StoreError } from '../util/errors.js';
import type { BlockRef } from './types.js';

export interface LayoutHistory {
  /** Every loaded epoch by number. */
  layouts: ReadonlyMap<number, Layout>;
  /** The newest epoch: where new blocks and rebuilt shards go. */
  newest: Layout;
  /** Every block is where this epoch (or the newer one it was written in) puts it; 0: none settled yet. */
  settledEpoch: number;
}

/**
 * For shard i: the target of the newest epoch first, then each older epoch's target down to
 * max(the block's epoch, the settled epoch), repeats skipped. A block listing its targets (written
 * before layouts were stored) is only where it says: rebalance leaves such blocks alone.
 */
export function shardPlaces(history: LayoutHistory, ref: BlockRef, shards: number): string[][] {
  if (ref.targets) return ref.targets.map((t) => [t]);
  // A settled epoch this process has not loaded yet (it follows the MetaStore late): its newest is the best it knows.
  let floor = Math.max(ref.epoch, Math.min(history.settledEpoch, history.newest.epoch));
  // An epoch too narrow for the block (a drain or removal left fewer targets than its width) never moved
  // it, so settling it says nothing about this block: it is still where the newest wide enough epoch from
  // its own on put it.
  while (floor > ref.epoch && (history.layouts.get(floor)?.width ?? shards) < shards) floor--;
  // A layout epoch is kept while any block may name it; its absence means the metadata is damaged.
  if (!history.layouts.has(floor)) throw new StoreError('ERR_LAYOUT_CORRUPT', `Cannot find layout epoch ${floor} of block "${ref.id}"`);
  if (floor >= history.newest.epoch || epochsWideEnough(history, floor, shards) === 1) return targetsFor(history.layouts.get(floor)!, ref.id, shards).map((t) => [t.id]);
  const places: string[][] = Array.from({ length: shards }, () => []);
  const epochs = [...history.layouts.keys()].filter((e) => e >= floor).sort((a, b) => b - a);
  for (const epoch of epochs) {
    const layout = history.layouts.get(epoch)!;
    if (layout.width < shards) continue; // an epoch too narrow for the block never placed nor moved it there
    targetsFor(layout, ref.id, shards).forEach((t, i) => {
      if (!places[i]!.includes(t.id)) places[i]!.push(t.id);
    });
  }
  if (places[0]!.length === 0) throw new StoreError('ERR_LAYOUT_CORRUPT', `Cannot place the ${shards} shards of block "${ref.id}": no layout epoch from ${floor} on is that wide`);
  return places;
}

/** How many epochs from `floor` on can place `shards` shards. */
function epochsWideEnough(history: LayoutHistory, floor: number, shards: number): number {
  return [...history.layouts].filter(([epoch, layout]) => epoch >= floor && layout.width >= shards).length;
}
