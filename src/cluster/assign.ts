// The partition → ordered targets assignment of one epoch, computed from the previous one: keep every
// slot that is still valid, shed what is over quota, fill the holes. Pure and deterministic.
import { assert } from '../util/assert.js';
import { apportion, newCumulative, type Cumulative } from './apportion.js';
import { hashInts, shuffleInPlace } from './hash.js';
import type { Topology } from './topology.js';

/** Candidate tokens looked at per zone before falling back to a scan of every target. */
const tokenLookahead = 64;
const zoneConflictCost = 1e6;
const nodeConflictCost = 1e3;

interface Work {
  readonly topology: Topology;
  readonly partitionCount: number;
  /** The slots being built, partition-major, -1 for a hole. */
  readonly slots: Int32Array;
  /** The previous epoch's slots mapped to this epoch's target indices (-1: gone), partition-major. */
  readonly previous: Int32Array;
  readonly previousWidth: number;
  /** Scratch: zones already in the round of the slot being filled. */
  readonly zoneUsed: Uint8Array;
}

export function assignPartitions(options: {
  topology: Topology;
  partitionCount: number;
  previous: Int32Array;
  previousWidth: number;
}): Uint32Array {
  const { topology, partitionCount, previous, previousWidth } = options;
  const { width } = topology;
  const work: Work = {
    topology,
    partitionCount,
    slots: new Int32Array(partitionCount * width).fill(-1),
    previous,
    previousWidth,
    zoneUsed: new Uint8Array(topology.zoneCount),
  };
  keepValid(work);
  const zoneCumulative = newCumulative(topology.zoneCount);
  const targetCumulative = newCumulative(topology.assignable.length);
  for (let i = 0; i < width; i++) {
    const remaining = quotasAt(work, i, zoneCumulative, targetCumulative);
    settle(work, i, remaining);
    // Where a fallback left a target off its quota, the running totals take what was placed, so the
    // next positions make up for it and a recomputation finds every count inside its window again.
    topology.zoneTargets.forEach((items, z) => {
      for (const t of items) {
        targetCumulative.quota[t] = (targetCumulative.quota[t] as number) - (remaining[t] as number);
        zoneCumulative.quota[z] = (zoneCumulative.quota[z] as number) - (remaining[t] as number);
      }
    });
  }
  const out = new Uint32Array(work.slots.length);
  work.slots.forEach((t, k) => {
    assert(t >= 0, `Slot ${k} was left empty`);
    out[k] = t;
  });
  return out;
}

/** Keeps each previous slot whose target still takes shards and which breaks no rule that could be kept. */
function keepValid(work: Work): void {
  const { topology, partitionCount, slots, previous, previousWidth } = work;
  const width = topology.width;
  const shared = Math.min(width, previousWidth);
  for (let p = 0; p < partitionCount; p++) {
    for (let i = 0; i < shared; i++) {
      const t = previous[p * previousWidth + i] as number;
      if (t < 0 || !topology.assignable[t]) continue;
      const cost = conflictCost(work, p, i, t);
      if (cost === Infinity) continue;
      if (topology.zonesStrict && cost >= zoneConflictCost) continue;
      if (topology.nodesStrict && cost % zoneConflictCost >= nodeConflictCost) continue;
      slots[p * width + i] = t;
    }
  }
}

/**
 * What a target at position `i` of partition `p` would break: Infinity if it is already in the list,
 * else a weighted count of zone-round and node-round repeats. Empty slots break nothing.
 */
function conflictCost(work: Work, p: number, i: number, t: number): number {
  const { topology, slots } = work;
  const { width, zoneCount, zoneOf, nodeOf, nodesInZone } = topology;
  const zone = zoneOf[t] as number;
  const node = nodeOf[t] as number;
  const nodesHere = nodesInZone[zone] as number;
  const round = Math.floor(i / zoneCount);
  const nodeRound = Math.floor(round / nodesHere);
  let cost = 0;
  for (let k = 0, at = p * width; k < width; k++, at++) {
    const u = slots[at] as number;
    if (u < 0 || k === i) continue;
    if (u === t) return Infinity;
    if (zoneOf[u] !== zone) continue;
    const otherRound = Math.floor(k / zoneCount);
    if (otherRound === round) cost += zoneConflictCost;
    if (nodeOf[u] === node && Math.floor(otherRound / nodesHere) === nodeRound) cost += nodeConflictCost;
  }
  return cost;
}

/** Integer quotas of position `i` for zones, then for the targets of each zone; returns quota − kept per target. */
function quotasAt(work: Work, i: number, zoneCumulative: Cumulative, targetCumulative: Cumulative): Int32Array {
  const { topology, partitionCount, slots } = work;
  const { width, zoneCount, zoneTargets, zoneOf } = topology;
  const kept = new Int32Array(topology.assignable.length);
  const zoneKept = new Int32Array(zoneCount);
  for (let p = 0; p < partitionCount; p++) {
    const t = slots[p * width + i] as number;
    if (t < 0) continue;
    kept[t]++;
    zoneKept[zoneOf[t] as number]++;
  }
  const zones = Array.from({ length: zoneCount }, (_, z) => z);
  const zoneQuota = apportion({
    items: zones,
    expected: zones.map((z) => partitionCount * (topology.zoneShare[z * width + i] as number)),
    house: partitionCount,
    kept: (z) => zoneKept[z] as number,
    cumulative: zoneCumulative,
    salt: hashInts(i, 0x7a),
  });
  const remaining = new Int32Array(topology.assignable.length);
  zoneTargets.forEach((items, z) => {
    const house = zoneQuota[z] as number;
    const quota = apportion({
      items,
      expected: items.map((t) => house * (topology.inZoneShare[t * width + i] as number)),
      house,
      kept: (t) => kept[t] as number,
      cumulative: targetCumulative,
      salt: hashInts(i, z, 0x7b),
    });
    items.forEach((t, k) => {
      remaining[t] = (quota[k] as number) - (kept[t] as number);
    });
  });
  return remaining;
}

/**
 * Settles position `i` against its quotas. Each slot held beyond its target's quota goes, where the
 * rules allow, straight to a target under quota (so the partitions that lose a slot are ones the
 * newcomer can enter); what is left over is emptied. Then each hole goes back to its previous target if
 * that is allowed and under quota; else to a token of the allowed zone with most quota left (tokens
 * are the quota slots, shuffled); else to the target that breaks the fewest rules and is least over.
 */
function settle(work: Work, i: number, remaining: Int32Array): void {
  const { topology, partitionCount, slots, previous, previousWidth } = work;
  const { width, zoneTargets, zoneOf } = topology;
  const queues: TokenQueue[] = zoneTargets.map((items, z) => {
    const tokens: number[] = [];
    for (const t of items) for (let r = 0; r < (remaining[t] as number); r++) tokens.push(t);
    shuffleInPlace(tokens, hashInts(i, z, 0x70));
    return { tokens, head: 0, left: tokens.length };
  });
  const take = (at: number, t: number) => {
    slots[at] = t;
    if ((remaining[t] as number) > 0) (queues[zoneOf[t] as number] as TokenQueue).left--;
    remaining[t]--;
  };
  const mask = partitionCount - 1;
  // An odd multiplier modulo a power of two visits every partition once, scattered.
  const order = (k: number, salt: number) => ((Math.imul(k, 0x9e3779b1) + hashInts(i, salt)) & mask) >>> 0;
  if (remaining.some((r) => r < 0)) {
    // First where the holder's node waits to return to a later slot it was dropped from (the node was
    // repeated there, e.g. once its zone gained a node), then where its zone does (the zone rounds grew
    // with a new zone): one move then settles both. Then anywhere.
    for (const sweep of ['node', 'zone', 'any'] as const) {
      for (let k = 0; k < partitionCount; k++) {
        const p = order(k, 0x5e);
        const t = slots[p * width + i] as number;
        if (t < 0 || (remaining[t] as number) >= 0) continue;
        if (sweep !== 'any' && !waitsToReturn(work, p, i, t, sweep)) continue;
        const chosen = pickToken(work, queues, p, i, remaining);
        if (chosen < 0) continue;
        remaining[t]++;
        take(p * width + i, chosen);
      }
    }
    for (let k = 0; k < partitionCount; k++) {
      const at = order(k, 0x5f) * width + i;
      const t = slots[at] as number;
      if (t >= 0 && (remaining[t] as number) < 0) {
        slots[at] = -1;
        remaining[t]++;
      }
    }
  }
  for (let k = 0; k < partitionCount; k++) {
    const p = order(k, 0xf1);
    const at = p * width + i;
    if ((slots[at] as number) >= 0) continue;
    const before = i < previousWidth ? (previous[p * previousWidth + i] as number) : -1;
    if (before >= 0 && topology.assignable[before] && (remaining[before] as number) > 0 && conflictCost(work, p, i, before) === 0) {
      take(at, before);
      continue;
    }
    const chosen = pickToken(work, queues, p, i, remaining);
    take(at, chosen >= 0 ? chosen : leastBad(work, p, i, remaining));
  }
}

/**
 * Whether a later slot of partition `p` is a hole whose previous target could come back if `t` moved
 * away: one on `t`'s node (level "node"), or, in the same zone round, one in `t`'s zone (level "zone").
 */
function waitsToReturn(work: Work, p: number, i: number, t: number, level: 'node' | 'zone'): boolean {
  const { slots, previous, previousWidth, topology } = work;
  const { nodeOf, zoneOf, zoneCount } = topology;
  const end = Math.min(topology.width, previousWidth);
  const round = Math.floor(i / zoneCount);
  for (let j = i + 1; j < end; j++) {
    const before = previous[p * previousWidth + j] as number;
    if (before < 0 || (slots[p * topology.width + j] as number) >= 0) continue;
    if (level === 'node' ? nodeOf[before] === nodeOf[t] : zoneOf[before] === zoneOf[t] && Math.floor(j / zoneCount) === round) return true;
  }
  return false;
}

/** A token for slot (p, i) from the zones the slot's round leaves open, most quota left first; -1 if none fits. */
function pickToken(work: Work, queues: TokenQueue[], p: number, i: number, remaining: Int32Array): number {
  const { slots, topology } = work;
  const { width, zoneCount, zoneOf } = topology;
  const zoneUsed = work.zoneUsed;
  zoneUsed.fill(0);
  const round = Math.floor(i / zoneCount);
  for (let j = round * zoneCount; j < Math.min(width, (round + 1) * zoneCount); j++) {
    const u = slots[p * width + j] as number;
    if (u >= 0 && j !== i) zoneUsed[zoneOf[u] as number] = 1;
  }
  for (;;) {
    let zone = -1;
    for (let z = 0; z < zoneCount; z++) {
      const left = (queues[z] as TokenQueue).left;
      if (!zoneUsed[z] && left > 0 && (zone < 0 || left > (queues[zone] as TokenQueue).left)) zone = z;
    }
    if (zone < 0) return -1;
    const chosen = popToken(work, queues[zone] as TokenQueue, p, i, remaining);
    if (chosen >= 0) return chosen;
    zoneUsed[zone] = 1; // every token of this zone breaks a rule here
  }
}

interface TokenQueue {
  tokens: number[];
  head: number;
  left: number;
}

/** The first token (up to the lookahead) whose target is under quota and breaks no rule in partition `p`. */
function popToken(work: Work, queue: TokenQueue, p: number, i: number, remaining: Int32Array): number {
  const { tokens } = queue;
  while (queue.head < tokens.length && (remaining[tokens[queue.head] as number] as number) <= 0) queue.head++;
  let looked = 0;
  for (let k = queue.head; k < tokens.length && looked < tokenLookahead; k++) {
    const t = tokens[k] as number;
    if ((remaining[t] as number) <= 0) continue;
    looked++;
    if (conflictCost(work, p, i, t) !== 0) continue;
    tokens[k] = tokens[queue.head] as number;
    tokens[queue.head] = t;
    queue.head++;
    return t;
  }
  return -1;
}

/** Fallback: the assignable target breaking the fewest rules, then least over its quota, then by hash. */
function leastBad(work: Work, p: number, i: number, remaining: Int32Array): number {
  const { topology } = work;
  let best = -1;
  let bestCost = Infinity;
  let bestOver = 0;
  let bestTie = 0;
  for (const items of topology.zoneTargets) {
    for (const t of items) {
      const cost = conflictCost(work, p, i, t);
      if (cost > bestCost) continue;
      const over = -(remaining[t] as number);
      const tie = hashInts(p, i, t);
      if (cost < bestCost || over < bestOver || (over === bestOver && tie < bestTie)) {
        best = t;
        bestCost = cost;
        bestOver = over;
        bestTie = tie;
      }
    }
  }
  assert(best >= 0 && bestCost !== Infinity, `No target can take position ${i} of partition ${p}`);
  return best;
}
