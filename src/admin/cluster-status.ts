// The cluster part of admin status and metrics: node and drive states over the newest layout, partition
// health for the default redundancy, and rebalance progress with its rate and ETA. Pure but for the one
// reader at the end, which loads the layout, staged changes and progress from the MetaStore.
import type { Layout } from '../cluster/index.js';
import type { DriveSummary, Redundancy } from '../blocks/types.js';
import type { MetaStore } from '../meta/types.js';
import { currentLayout, readStaged } from '../objects/layout-admin.js';
import { readRebalanceProgress, type RebalanceProgress } from '../objects/rebalance.js';

export type NodeState = 'up' | 'down' | 'draining';
export type DriveState = DriveSummary['state'];
export type PartitionHealth = 'healthy' | 'degraded' | 'unreadable';

export interface ClusterNodeStatus {
  id: string;
  zone: string;
  address: string;
  /** down: none of its drives answers (missing or suspect in the block store); beats draining. */
  state: NodeState;
  drives: { id: string; capacity: number; state: DriveState }[];
}

export interface PartitionCounts {
  total: number;
  /** Every one of the first `width` targets up. */
  healthy: number;
  /** Some down, at least `readQuorum` up: readable, short of redundancy. */
  degraded: number;
  /** Fewer than `readQuorum` up. */
  unreadable: number;
  /** Targets counted per partition: the default redundancy's width (or the layout's, if narrower). */
  width: number;
  readQuorum: number;
}

export interface RebalanceStatus extends RebalanceProgress {
  blocksRemaining: number;
  /** Over the pass so far (start to its last update). */
  bytesPerSec: number;
  blocksPerSec: number;
  /** Seconds left at the pass's rate; null when idle or when no rate is known yet. */
  etaSeconds: number | null;
}

export interface ClusterStatus {
  epoch: number;
  nodes: ClusterNodeStatus[];
  partitions: PartitionCounts;
  stagedChanges: number;
  rebalance: RebalanceStatus | null;
}

/** Shards of the default redundancy and how many of them a read needs. */
function widthOf(redundancy: Redundancy): { width: number; readQuorum: number } {
  return redundancy.kind === 'rs' ? { width: redundancy.data + redundancy.parity, readQuorum: redundancy.data } : { width: redundancy.copies, readQuorum: 1 };
}

/** Partitions of `layout` by how many of their first targets are up. */
export function partitionHealth(layout: Layout, isUp: (targetId: string) => boolean, redundancy: Redundancy): PartitionCounts {
  const wanted = widthOf(redundancy);
  const width = Math.min(wanted.width, layout.width);
  const readQuorum = Math.min(wanted.readQuorum, width);
  const counts: PartitionCounts = { total: 0, healthy: 0, degraded: 0, unreadable: 0, width, readQuorum };
  if (width === 0) return counts;
  const up = Uint8Array.from(layout.targets, (t) => (isUp(t.id) ? 1 : 0));
  counts.total = layout.partitionCount;
  for (let p = 0; p < layout.partitionCount; p++) {
    let n = 0;
    for (let i = 0; i < width; i++) n += up[layout.assignment[p * layout.width + i] as number] as number;
    if (n === width) counts.healthy++;
    else if (n >= readQuorum) counts.degraded++;
    else counts.unreadable++;
  }
  return counts;
}

/** Rate and ETA of a rebalance pass from its stored counters. */
export function rebalanceStatus(progress: RebalanceProgress): RebalanceStatus {
  const elapsedSec = Math.max(0, ((progress.finishedAtMs ?? progress.updatedAtMs) - progress.startedAtMs) / 1000);
  const blocksRemaining = Math.max(0, progress.blocksTotal - progress.blocksChecked);
  const blocksPerSec = elapsedSec > 0 ? progress.blocksChecked / elapsedSec : 0;
  const bytesPerSec = elapsedSec > 0 ? progress.bytesMoved / elapsedSec : 0;
  let etaSeconds: number | null = null;
  if (progress.state === 'idle') etaSeconds = 0;
  else if (blocksPerSec > 0) etaSeconds = Math.ceil(blocksRemaining / blocksPerSec);
  return { ...progress, blocksRemaining, bytesPerSec, blocksPerSec, etaSeconds };
}

/**
 * Nodes and drives of the newest layout with the states the block store sees (a drive it does not know is
 * missing), partition health for `redundancy`, and rebalance progress.
 */
export function clusterStatus(input: { layout: Layout; drives: readonly DriveSummary[]; redundancy: Redundancy; stagedChanges: number; rebalance: RebalanceProgress | undefined }): ClusterStatus {
  const { layout } = input;
  const stateOf = new Map(input.drives.map((d) => [d.id, d.state]));
  const driveState = (id: string): DriveState => stateOf.get(id) ?? 'missing';
  const nodes = layout.nodes.filter((n) => n.state !== 'removed').map((node): ClusterNodeStatus => {
    const drives = layout.targets.filter((t) => t.nodeId === node.id && t.state !== 'removed').map((t) => ({ id: t.id, capacity: t.capacity, state: driveState(t.id) }));
    const down = drives.length > 0 && drives.every((d) => d.state !== 'ok');
    return { id: node.id, zone: node.zone, address: node.address, state: down ? 'down' : node.state === 'draining' ? 'draining' : 'up', drives };
  });
  return {
    epoch: layout.epoch,
    nodes,
    partitions: partitionHealth(layout, (id) => driveState(id) === 'ok', input.redundancy),
    stagedChanges: input.stagedChanges,
    rebalance: input.rebalance ? rebalanceStatus(input.rebalance) : null,
  };
}

/** The cluster's nodes, partitions and rebalance progress, given the block store's drive states. */
export async function readClusterStatus(deps: { meta: MetaStore; defaultRedundancy: Redundancy }, drives: readonly DriveSummary[]): Promise<ClusterStatus> {
  const [layout, { staged }, rebalance] = await Promise.all([currentLayout(deps.meta), readStaged(deps.meta), readRebalanceProgress(deps.meta)]);
  return clusterStatus({ layout, drives, redundancy: deps.defaultRedundancy, stagedChanges: staged?.changes.length ?? 0, rebalance });
}
