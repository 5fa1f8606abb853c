// The cluster layout: computing the next epoch from the previous one and staged changes, and the
// lookups every gateway and node make (block id → partition → first `width` targets). No I/O.
import { assert } from '../util/assert.js';
import { assignPartitions } from './assign.js';
import { applyChanges } from './changes.js';
import { partitionOfId } from './hash.js';
import { buildTopology } from './topology.js';
import { partitionCountDefault, targetsMax, type Layout, type LayoutChange, type LayoutTarget } from './types.js';

/** Epoch 0: no nodes. A cluster's first layout is `computeLayout(emptyLayout(), [addNode…])`. */
export function emptyLayout(options: { partitionCount?: number } = {}): Layout {
  const partitionCount = options.partitionCount ?? partitionCountDefault;
  if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > 2 ** 24 || (partitionCount & (partitionCount - 1)) !== 0) {
    throw new RangeError(`Cannot use ${partitionCount} partitions: expected a power of two from 1 to 2^24`);
  }
  return { epoch: 0, partitionCount, width: 0, nodes: [], targets: [], assignment: new Uint32Array(0) };
}

/**
 * The next layout (epoch + 1): `changes` applied to `previous`'s membership, then an assignment that
 * keeps every slot of `previous` that is still valid and within quota and moves only the rest.
 * Deterministic: the same previous layout and changes give the same layout in every process.
 */
export function computeLayout(previous: Layout, changes: readonly LayoutChange[]): Layout {
  const { nodes, targets, replaced } = applyChanges(previous, changes);
  if (targets.length > targetsMax) throw new RangeError(`Cannot lay out ${targets.length} drives: at most ${targetsMax}`);
  const topology = buildTopology(nodes, targets);
  const index = new Map(targets.map((t, i) => [t.id, i]));
  const mapped = previous.targets.map((t) => index.get(replaced.get(t.id) ?? t.id) ?? -1);
  const prior = new Int32Array(previous.assignment.length);
  previous.assignment.forEach((t, k) => {
    prior[k] = mapped[t] ?? -1;
  });
  let assignment: Uint32Array;
  if (topology.width === 0) {
    assignment = new Uint32Array(0);
  } else if (sameShape(previous, { nodes, targets }, replaced) && previous.width === topology.width) {
    // The targets that take shards are the same (a drive replaced, a drained node removed, no change):
    // the previous assignment is still the answer, so none of the rounding slack is re-settled.
    assignment = Uint32Array.from(prior);
  } else {
    assignment = assignPartitions({ topology, partitionCount: previous.partitionCount, previous: prior, previousWidth: previous.width });
  }
  return { epoch: previous.epoch + 1, partitionCount: previous.partitionCount, width: topology.width, nodes, targets, assignment };
}

/** Whether both memberships give shards to the same targets (after replacements), nodes, zones and capacities. */
function sameShape(previous: Pick<Layout, 'nodes' | 'targets'>, next: Pick<Layout, 'nodes' | 'targets'>, replaced: ReadonlyMap<string, string>): boolean {
  const shape = (layout: Pick<Layout, 'nodes' | 'targets'>, rename: (id: string) => string) => {
    const nodes = new Map(layout.nodes.map((n) => [n.id, n]));
    return layout.targets
      .filter((t) => t.state === 'active' && t.capacity > 0 && nodes.get(t.nodeId)?.state === 'active')
      .map((t) => `${rename(t.id)}\u0000${t.nodeId}\u0000${nodes.get(t.nodeId)?.zone}\u0000${t.capacity}`)
      .sort()
      .join('\n');
  };
  return shape(previous, (id) => replaced.get(id) ?? id) === shape(next, (id) => id);
}

/** The partition a block id falls in: the top bits of a stable hash of the id. */
export function partitionOf(blockId: string, partitionCount: number): number {
  if (typeof blockId !== 'string' || blockId.length === 0) throw new TypeError(`Cannot find the partition of block id "${String(blockId)}"`);
  return partitionOfId(blockId, partitionCount);
}

/** The targets of a block of `width` shards in `layout`: shard i goes to the i-th. */
export function targetsFor(layout: Layout, blockId: string, width: number): LayoutTarget[] {
  if (!Number.isInteger(width) || width < 1 || width > layout.width) {
    throw new RangeError(`Cannot place ${width} shards in layout epoch ${layout.epoch}: it lists ${layout.width} targets per partition`);
  }
  const start = partitionOf(blockId, layout.partitionCount) * layout.width;
  const out = new Array<LayoutTarget>(width);
  for (let i = 0; i < width; i++) out[i] = layout.targets[layout.assignment[start + i] as number] as LayoutTarget;
  return out;
}

/** The target ids of partition `partition`, all `layout.width` of them in order. */
export function partitionTargets(layout: Layout, partition: number): string[] {
  if (!Number.isInteger(partition) || partition < 0 || partition >= layout.partitionCount) {
    throw new RangeError(`Cannot list partition ${partition}: layout epoch ${layout.epoch} has ${layout.partitionCount}`);
  }
  const start = partition * layout.width;
  return Array.from({ length: layout.width }, (_, i) => (layout.targets[layout.assignment[start + i] as number] as LayoutTarget).id);
}

/**
 * Each target's share of the slots among the first `width` positions, as laid out (`actual`), as its
 * capacity alone would give (`capacity`), and as the failure-domain rules allow (`feasible`: the
 * capacity share after the zone, node and drive caps that the assignment aims at).
 */
export function targetShares(layout: Layout, width = layout.width): Map<string, { actual: number; capacity: number; feasible: number }> {
  if (!Number.isInteger(width) || width < 1 || width > layout.width) throw new RangeError(`Cannot count the first ${width} of ${layout.width} positions`);
  const topology = buildTopology(layout.nodes, layout.targets);
  assert(topology.width === layout.width, 'A layout lists as many targets per partition as its topology');
  const counts = new Float64Array(layout.targets.length);
  for (let p = 0; p < layout.partitionCount; p++) {
    for (let i = 0; i < width; i++) counts[layout.assignment[p * layout.width + i] as number]++;
  }
  const totalCapacity = layout.targets.reduce((sum, t, k) => (topology.assignable[k] ? sum + t.capacity : sum), 0);
  const out = new Map<string, { actual: number; capacity: number; feasible: number }>();
  layout.targets.forEach((t, k) => {
    if (!topology.assignable[k]) return;
    const zone = topology.zoneOf[k] as number;
    let feasible = 0;
    for (let i = 0; i < width; i++) {
      feasible += (topology.zoneShare[zone * layout.width + i] as number) * (topology.inZoneShare[k * layout.width + i] as number);
    }
    out.set(t.id, { actual: (counts[k] as number) / (layout.partitionCount * width), capacity: t.capacity / totalCapacity, feasible: feasible / width });
  });
  return out;
}
