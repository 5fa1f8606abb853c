// Rebalance progress as stored in the MetaStore (setting `rebalance`), read by admin status and metrics.
// Placeholder for the seam of the cluster spec: the rebalance branch owns this file and its worker; this
// copy holds only the interface and the reader, so the admin side can be built against them.
import type { MetaStore } from '../meta/types.js';
import { keys } from './keys.js';

export interface RebalanceProgress {
  /** Every block is where this epoch puts it: reads need no older epoch. */
  settledEpoch: number;
  /** The epoch blocks are being moved to (the newest when this pass started); = settledEpoch when idle. */
  toEpoch: number;
  state: 'idle' | 'running';
  blocksChecked: number;
  blocksTotal: number; // estimated when the pass started
  blocksMoved: number;
  shardsMoved: number;
  bytesMoved: number;
  shardsFailed: number;
  startedAtMs: number;
  updatedAtMs: number;
  finishedAtMs?: number;
}

/** The stored progress, or undefined when no rebalance ever ran. */
export async function readRebalanceProgress(meta: MetaStore): Promise<RebalanceProgress | undefined> {
  const stored = await meta.get(keys.setting('rebalance'));
  return stored ? (JSON.parse(stored.toString('utf8')) as RebalanceProgress) : undefined;
}
