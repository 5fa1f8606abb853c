// The layout of this node's own drives: the first epoch of a single-node server (a cluster of one node,
// one zone) and the next epoch when drives join. Pure, over src/cluster; the caller stores the result.
import { computeLayout, emptyLayout, type Layout, type LayoutChange } from '../cluster/index.js';
import { localNode } from './drive.js';

export interface LocalDriveInfo {
  id: string;
  /** Relative capacity (GiB of the drive's file system, or equal weights when unknown). */
  capacity: number;
}

/**
 * The layout to store when `drives` are not all laid out yet: epoch 1 over them when there is no
 * `previous` layout, else `previous` plus the drives it lacks (a new epoch). undefined: nothing to change.
 * A drive of `previous` not in `drives` stays: a missing drive is healed back, not removed.
 */
export function nextLocalLayout(previous: Layout | undefined, drives: readonly LocalDriveInfo[], options: { partitionCount?: number } = {}): Layout | undefined {
  if (!previous || previous.targets.length === 0) {
    if (drives.length === 0) return undefined;
    const base = previous ?? emptyLayout(options);
    return computeLayout(base, [{ kind: 'addNode', node: { id: localNode, address: '', zone: localNode }, drives }]);
  }
  const known = new Set(previous.targets.map((t) => t.id));
  const changes: LayoutChange[] = drives.filter((d) => !known.has(d.id)).map((drive) => ({ kind: 'addDrive', nodeId: localNode, drive }));
  return changes.length > 0 ? computeLayout(previous, changes) : undefined;
}

/** The drive ids `layout` gives this node, in its order (sorted by id). */
export function localDrivesOf(layout: Layout): string[] {
  return layout.targets.filter((t) => t.nodeId === localNode && t.state !== 'removed').map((t) => t.id);
}
