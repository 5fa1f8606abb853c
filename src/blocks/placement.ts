// Placement: which targets hold the shards of a block. Weighted rendezvous hashing (HRW) per shard slot
// over targets with failure domains; a pure function of (block id, layout), so any node computes the same.
import { createHash } from 'node:crypto';
import { assert } from '../util/assert.js';

export interface PlacementTarget {
  id: string;
  /** Relative capacity; a target of weight 2 receives twice the shards of weight 1. */
  weight: number;
  zone: string;
  node: string;
}

/** The targets of one layout epoch. An epoch change is the only thing that moves placements. */
export interface PlacementLayout {
  epoch: number;
  targets: PlacementTarget[];
}

/**
 * The targets for shards 0..count-1 of `blockId`, distinct. Each slot takes the target with the best
 * HRW score among those not yet taken, preferring (in order) a usable target, an unused zone, then an
 * unused node. Adding one target to N therefore changes about count/(N+1) slots, never a reshuffle:
 * a slot changes only where the new target outscores the old winner.
 */
export function placeShards(options: {
  blockId: string;
  layout: PlacementLayout;
  count: number;
  isUsable?: (targetId: string) => boolean;
}): string[] {
  const { blockId, layout, count, isUsable = () => true } = options;
  if (count > layout.targets.length) {
    throw new RangeError(`Cannot place ${count} shards on ${layout.targets.length} targets`);
  }
  const chosen: PlacementTarget[] = [];
  for (let slot = 0; slot < count; slot++) {
    let best: { target: PlacementTarget; rank: number; score: number } | undefined;
    for (const target of layout.targets) {
      if (chosen.includes(target)) continue;
      const rank = domainRank(target, chosen) + (isUsable(target.id) ? 0 : 10);
      if (best && rank > best.rank) continue;
      const score = hrwScore(blockId, slot, target);
      if (!best || rank < best.rank || score > best.score) best = { target, rank, score };
    }
    assert(best !== undefined, 'Placement found no target');
    chosen.push(best.target);
  }
  return chosen.map((t) => t.id);
}

/** 0: opens a new zone; 1: same zone, new node; 2: a node already used (another drive of it). */
function domainRank(target: PlacementTarget, chosen: readonly PlacementTarget[]): number {
  if (!chosen.some((c) => c.zone === target.zone)) return 0;
  if (!chosen.some((c) => c.node === target.node)) return 1;
  return 2;
}

/**
 * Weighted HRW (the logarithmic method): score = weight / −ln(u), u uniform in (0,1) from a hash of
 * (block, slot, target). The top score is then target t with probability weight_t / Σ weights.
 */
export function hrwScore(blockId: string, slot: number, target: PlacementTarget): number {
  assert(target.weight > 0, `Target "${target.id}" has no weight`);
  const digest = createHash('sha256').update(`${blockId}/${slot}/${target.id}`).digest();
  const bits53 = digest.readUIntBE(0, 6) * 32 + (digest.readUInt8(6) >>> 3);
  const u = (bits53 + 0.5) / 2 ** 53;
  return target.weight / -Math.log(u);
}
