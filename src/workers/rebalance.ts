// The rebalance worker: steps of objects/rebalance.ts under its lease (one process in the cluster moves
// data), throttled to a number of blocks and of bytes per second.
import type { Rebalance, RebalanceProgress } from '../objects/rebalance.js';
import type { Worker } from './worker.js';

/** Blocks one step moves shards of at most (fewer at a low rate, so a step stays within about a second's budget). */
const rebalanceStepBlocksMax = 16;

export interface RebalanceWorkerOptions {
  /** Blocks per second the walk may move shards of; 0 pauses moving (reads still follow the settled epoch). */
  rateBlocksPerSec: number;
  /** Shard bytes per second it may copy or rebuild; 0: no byte limit. */
  rateBytesPerSec: number;
}

export function rebalanceWorker(rebalance: Pick<Rebalance, 'step' | 'progress'>, options: RebalanceWorkerOptions): Worker & { progress(): RebalanceProgress | undefined } {
  const { rateBlocksPerSec, rateBytesPerSec } = options;
  if (!(rateBlocksPerSec >= 0) || !(rateBytesPerSec >= 0)) throw new RangeError(`Cannot rebalance at ${rateBlocksPerSec} blocks/s and ${rateBytesPerSec} B/s: expected non-negative rates`);
  const blocksMax = Math.max(1, Math.min(rebalanceStepBlocksMax, Math.floor(rateBlocksPerSec)));
  let last: { blocks: number; bytes: number } = { blocks: 0, bytes: 0 };
  let progress: RebalanceProgress | undefined;
  return {
    name: 'rebalance',
    async step(signal) {
      if (rateBlocksPerSec === 0) {
        progress = await rebalance.progress();
        last = { blocks: 0, bytes: 0 };
        return 'idle';
      }
      // A step moves at most a second's bytes, so the wait after it stays short and the rate even.
      const result = await rebalance.step({ blocksMax, bytesMax: rateBytesPerSec > 0 ? rateBytesPerSec : Number.POSITIVE_INFINITY, signal });
      progress = result.progress;
      last = result;
      return result.state;
    },
    delayMs(state) {
      if (state === 'idle') return 1000; // a new epoch, or a retry that came due, is seen within a second
      const blocksMs = (last.blocks / rateBlocksPerSec) * 1000;
      const bytesMs = rateBytesPerSec > 0 ? (last.bytes / rateBytesPerSec) * 1000 : 0;
      return Math.max(blocksMs, bytesMs);
    },
    status: () => (progress ? { rebalance: progress } : undefined),
    progress: () => progress,
  };
}
