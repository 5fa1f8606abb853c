// Placement: which targets hold the shards of a block. Weighted rendezvous hashing (HRW) over targets
// with failure domains; a pure function of (block id, layout), so every node computes the same answer.
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
 * The `count` distinct targets for a block, best first. Each target has one HRW score per block;
 * targets are taken in score order, except that a target in a less used failure domain (usable
 * first, then an unused zone, then an unused node) goes before one in a more used domain.
 *
 * Movement is counted by set, not by slot: BlockRef records each shard's target, so a rebalance keeps
 * every shard whose target is still in the new set and moves only the others (see `rebalanceTargets`).
 * Adding one target to N changes the set of about count/(N+1) blocks, each by one member: 1/(N+1)
 * of the shards, the minimum.
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
  const scored = layout.targets
    .map((target) => ({ target, score: hrwScore(blockId, target), usable: isUsable(target.id) }))
    .sort((a, b) => b.score - a.score);
  const chosen: PlacementTarget[] = [];
  while (chosen.length < count) {
    let best: { target: PlacementTarget; rank: number } | undefined;
    for (const { target, usable } of scored) {
      if (chosen.includes(target)) continue;
      const rank = domainRank(target, chosen) + (usable ? 0 : 10);
      if (!best || rank < best.rank) best = { target, rank }; // scores descend, so the first of a rank wins
    }
    assert(best !== undefined, 'Placement found no target');
    chosen.push(best.target);
  }
  return chosen.map((t) => t.id);
}

/**
 * The shard → target list a rebalance should move a block toward: shards whose target is still in
 * `placed` stay put (same index, same target); only the others move, onto the new members.
 */
export function rebalanceTargets(current: readonly string[], placed: readonly string[]): string[] {
  assert(current.length === placed.length, 'A rebalance keeps the shard count');
  const incoming = placed.filter((t) => !current.includes(t));
  return current.map((target) => (placed.includes(target) ? target : (incoming.shift() as string)));
}

/** 0: opens a new zone; 1: same zone, new node; 2: a node already used (another drive of it). */
function domainRank(target: PlacementTarget, chosen: readonly PlacementTarget[]): number {
  if (!chosen.some((c) => c.zone === target.zone)) return 0;
  if (!chosen.some((c) => c.node === target.node)) return 1;
  return 2;
}

/**
 * Weighted HRW (the logarithmic method): score = weight / −ln(u), u uniform in (0,1) from a hash of
 * (block, target). The top score is then target t with probability weight_t / Σ weights.
 */
export function hrwScore(blockId: string, target: PlacementTarget): number {
  assert(target.weight > 0, `Target "${target.id}" has no weight`);
  const digest = createHash('sha256').update(`${blockId}/${target.id}`).digest();
  const bits53 = digest.readUIntBE(0, 6) * 32 + (digest.readUInt8(6) >>> 3);
  const u = (bits53 + 0.5) / 2 ** 53;
  return target.weight / -Math.log(u);
}
