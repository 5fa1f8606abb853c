// The cluster layout's history in the MetaStore (design.md §5: no other place holds layout truth): one
// record per epoch, loaded once at start and handed to the block store, which places by the newest epoch
// and reads each block by the epoch it was written under.
import { decodeLayout, encodeLayout, type Layout } from '../cluster/index.js';
import { localDrivesOf, nextLocalLayout, type LayoutSource } from '../blocks/index.js';
import type { MetaStore } from '../meta/types.js';
import { StoreError } from '../util/errors.js';
import { keys } from './keys.js';

/**
 * Every stored epoch, oldest first. Kept, not pruned: a block names the epoch it was written under, and
 * an epoch may be dropped only once a rebalance has moved every block off it (not built yet).
 */
export async function loadLayouts(meta: MetaStore): Promise<Layout[]> {
  const { start, end } = keys.layoutRange();
  const rows = await meta.scan({ start, end, limit: 1_000_000 });
  return rows.map((row) => {
    const layout = decodeLayout(row.value);
    if (!row.key.equals(keys.layout(layout.epoch))) {
      throw new StoreError('ERR_LAYOUT_CORRUPT', `Cannot load the layout stored as epoch ${row.key.readUInt32BE(1)}: it holds epoch ${layout.epoch}`);
    }
    return layout;
  });
}

/**
 * The block store's layout source over `meta`. On the first start of a data directory (a fresh one, or
 * one written before layouts were stored, whose blocks list their drives) it stores epoch 1 over the
 * drives found; drives that join later get a new epoch. Each store is one conditional commit, so a crash
 * leaves either the old history or the new one, and the next start finishes the work.
 */
export async function metaLayoutSource(meta: MetaStore, onStored?: (layout: Layout) => void): Promise<LayoutSource> {
  const history = await loadLayouts(meta);
  const newest = history[history.length - 1];
  return {
    ...(newest ? { knownDrives: localDrivesOf(newest) } : {}),
    async settle(drives) {
      const next = nextLocalLayout(newest, drives);
      if (!next) return history;
      const stored = await meta.commit({ checks: [{ key: keys.layout(next.epoch), value: null }], writes: [{ key: keys.layout(next.epoch), value: encodeLayout(next) }] });
      // The data-directory lock keeps a second server out, so a lost check means the history changed under us.
      if (!stored) throw new StoreError('ERR_META_CONFLICT', `Cannot store layout epoch ${next.epoch}: another writer stored it first`);
      onStored?.(next);
      return [...history, next];
    },
  };
}

/**
 * Stores `layout` as its epoch with one conditional commit: true when stored, false when that epoch was
 * there already (another process applied a change first). The caller builds it from the newest epoch.
 */
export async function storeLayout(meta: MetaStore, layout: Layout): Promise<boolean> {
  if (!Number.isInteger(layout.epoch) || layout.epoch < 1) throw new RangeError(`Cannot store layout epoch ${layout.epoch}`);
  const key = keys.layout(layout.epoch);
  return meta.commit({ checks: [{ key, value: null }], writes: [{ key, value: encodeLayout(layout) }] });
}

/**
 * The epochs stored after `epoch`, oldest first: one get when there is none, so a gateway can ask every
 * second. Epochs are stored one after the other (each checks its number is free), so the first gap ends them.
 */
export async function loadLayoutsAfter(meta: MetaStore, epoch: number): Promise<Layout[]> {
  const out: Layout[] = [];
  for (let next = epoch + 1; ; next++) {
    const value = await meta.get(keys.layout(next));
    if (!value) return out;
    const layout = decodeLayout(value);
    if (layout.epoch !== next) throw new StoreError('ERR_LAYOUT_CORRUPT', `Cannot load the layout stored as epoch ${next}: it holds epoch ${layout.epoch}`);
    out.push(layout);
  }
}
