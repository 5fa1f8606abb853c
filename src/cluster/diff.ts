// What a change of layout moves: slots whose target differs between two epochs, per partition,
// position and target, with a byte estimate the rebalancer and the admin CLI can show.
import type { Layout, LayoutTarget } from './types.js';

export interface TargetMovement {
  readonly targetId: string;
  /** Slots among the positions both epochs list. */
  readonly slotsBefore: number;
  readonly slotsAfter: number;
  /** Slots it gains (data to write to it) and loses (data that leaves it). */
  readonly slotsIn: number;
  readonly slotsOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
}

export interface LayoutDiff {
  readonly fromEpoch: number;
  readonly toEpoch: number;
  /** Slots compared: partitions × the positions both epochs list. */
  readonly slotsCompared: number;
  /** Slots whose target changed: each is one shard index of every block of its partition that must move. */
  readonly slotsMoved: number;
  readonly movedFraction: number;
  readonly partitionsMoved: number;
  readonly movedByPosition: readonly number[];
  readonly targets: readonly TargetMovement[];
}

/**
 * Compares slot by slot: a shard index whose target changes moves, even if the target is still in the
 * partition's list at another position. `bytesPerSlot` (one number, or one per position) is what one
 * slot holds on average, e.g. the bytes stored at that shard index over all blocks / partitions.
 */
export function diffLayouts(previous: Layout, next: Layout, options: { bytesPerSlot?: number | readonly number[] } = {}): LayoutDiff {
  if (previous.partitionCount !== next.partitionCount) {
    throw new RangeError(`Cannot compare layouts of ${previous.partitionCount} and ${next.partitionCount} partitions`);
  }
  const shared = Math.min(previous.width, next.width);
  const bytesAt = (i: number) => {
    const b = options.bytesPerSlot ?? 0;
    return typeof b === 'number' ? b : (b[i] ?? 0);
  };
  const rows = new Map<string, { before: number; after: number; in: number; out: number; bytesIn: number; bytesOut: number }>();
  const row = (t: LayoutTarget) => {
    let r = rows.get(t.id);
    if (!r) rows.set(t.id, (r = { before: 0, after: 0, in: 0, out: 0, bytesIn: 0, bytesOut: 0 }));
    return r;
  };
  const movedByPosition = new Array<number>(shared).fill(0);
  let partitionsMoved = 0;
  for (let p = 0; p < next.partitionCount; p++) {
    let moved = false;
    for (let i = 0; i < shared; i++) {
      const from = previous.targets[previous.assignment[p * previous.width + i] as number] as LayoutTarget;
      const to = next.targets[next.assignment[p * next.width + i] as number] as LayoutTarget;
      row(from).before++;
      row(to).after++;
      if (from.id === to.id) continue;
      moved = true;
      movedByPosition[i]++;
      row(from).out++;
      row(from).bytesOut += bytesAt(i);
      row(to).in++;
      row(to).bytesIn += bytesAt(i);
    }
    if (moved) partitionsMoved++;
  }
  const slotsMoved = movedByPosition.reduce((a, b) => a + b, 0);
  const slotsCompared = next.partitionCount * shared;
  const targets = [...rows].map(([targetId, r]) => ({
    targetId,
    slotsBefore: r.before,
    slotsAfter: r.after,
    slotsIn: r.in,
    slotsOut: r.out,
    bytesIn: r.bytesIn,
    bytesOut: r.bytesOut,
  }));
  targets.sort((a, b) => (a.targetId < b.targetId ? -1 : a.targetId > b.targetId ? 1 : 0));
  return {
    fromEpoch: previous.epoch,
    toEpoch: next.epoch,
    slotsCompared,
    slotsMoved,
    movedFraction: slotsCompared === 0 ? 0 : slotsMoved / slotsCompared,
    partitionsMoved,
    movedByPosition,
    targets,
  };
}
