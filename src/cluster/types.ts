// The cluster layout's data types and limits: nodes, targets (drives on nodes), partitions and their
// ordered target lists. Pure data; the functions over it live in layout.ts and its helpers.

/**
 * Partitions of a new cluster, fixed for its life (a block's partition must never change). 2^16 so
 * that at the design's upper size, 1,000 nodes × 10 drives, a drive still holds about 39 shard slots
 * among the first six positions (a 4+2 block's) and 79 among all twelve: one slot more or less is then
 * 2.5 % of its share, inside the ±5 % balance goal. 4,096 partitions would give 2.5 slots per drive
 * there, where a single slot is 40 %. The cost is memory: 65,536 × 12 slots, 3 MiB per loaded layout.
 */
export const partitionCountDefault = 65_536;
/** Targets listed per partition: the widest block a cluster may write (e.g. RS 8+4). */
export const widthMax = 12;
/** Most targets one layout may hold; target indices are stored as u16 when fewer than 65,536. */
export const targetsMax = 1_000_000;

/** active: holds data. draining: being decommissioned, holds no slots of this epoch, still read from. removed: gone from this epoch on. */
export type MemberState = 'active' | 'draining' | 'removed';

export interface LayoutNode {
  readonly id: string;
  /** Where the node's RPC listens, e.g. "10.0.0.5:3900". */
  readonly address: string;
  /** The outermost failure domain: a rack, room or data centre. */
  readonly zone: string;
  readonly state: MemberState;
}

/** A drive on a node: what a shard slot names. */
export interface LayoutTarget {
  readonly id: string;
  readonly nodeId: string;
  /** Relative capacity (e.g. bytes or TB); shards are spread in proportion to it. Zero takes no new shards. */
  readonly capacity: number;
  readonly state: MemberState;
}

export interface Layout {
  /** Raised by one for every applied change; 0 is the empty layout a cluster starts from. */
  readonly epoch: number;
  /** A power of two; block ids map to partitions by the top bits of their hash. */
  readonly partitionCount: number;
  /** Targets per partition (≤ widthMax and ≤ the assignable targets): the widest block this epoch can place. */
  readonly width: number;
  readonly nodes: readonly LayoutNode[];
  /** Sorted by id; `assignment` refers to them by index. */
  readonly targets: readonly LayoutTarget[];
  /** partitionCount × width target indices, partition-major: slot (p, i) is at p × width + i. */
  readonly assignment: Uint32Array;
}

export interface DriveSpec {
  readonly id: string;
  readonly capacity: number;
}

/** One staged change. `computeLayout` applies a list of them to the previous layout. */
export type LayoutChange =
  | { readonly kind: 'addNode'; readonly node: { readonly id: string; readonly address: string; readonly zone: string }; readonly drives: readonly DriveSpec[] }
  | { readonly kind: 'addDrive'; readonly nodeId: string; readonly drive: DriveSpec }
  | { readonly kind: 'setCapacity'; readonly targetId: string; readonly capacity: number }
  /** Decommission: the node keeps serving reads of older epochs while its shards move away. */
  | { readonly kind: 'drainNode'; readonly nodeId: string }
  /** The node is gone (drained, or lost: its shards are rebuilt elsewhere by heal). */
  | { readonly kind: 'removeNode'; readonly nodeId: string }
  /** A new drive takes the failed drive's place: it inherits every slot, so nothing else moves. */
  | { readonly kind: 'replaceDrive'; readonly oldTargetId: string; readonly drive: DriveSpec };
