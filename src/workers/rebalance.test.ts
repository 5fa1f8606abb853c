// The rebalance worker's throttle: how long it waits after a step, from the blocks and bytes the step moved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RebalanceProgress, RebalanceStepResult } from '../objects/rebalance.js';
import { rebalanceWorker } from './rebalance.js';

const progress: RebalanceProgress = {
  settledEpoch: 1, toEpoch: 2, state: 'running', blocksChecked: 0, blocksTotal: 0, blocksMoved: 0, shardsMoved: 0, bytesMoved: 0,
  shardsFailed: 0, shardsBlocked: 0, blocksBlocked: 0, startedAtMs: 0, updatedAtMs: 0,
};

/** A rebalance whose steps answer `results` in turn, recording the limits each step was given. */
function fake(results: Omit<RebalanceStepResult, 'progress'>[]) {
  const limits: { blocksMax: number; bytesMax: number }[] = [];
  return {
    limits,
    rebalance: {
      async step(l: { blocksMax: number; bytesMax: number }): Promise<RebalanceStepResult> {
        limits.push({ blocksMax: l.blocksMax, bytesMax: l.bytesMax });
        return { ...results.shift()!, progress };
      },
      async progress() {
        return progress;
      },
    },
  };
}

test('rebalanceWorker - waits what the step\'s blocks or bytes cost at their rates, whichever is longer', async () => {
  const { rebalance, limits } = fake([{ state: 'busy', blocks: 4, bytes: 1000 }, { state: 'busy', blocks: 1, bytes: 8000 }]);
  const worker = rebalanceWorker(rebalance, { rateBlocksPerSec: 8, rateBytesPerSec: 4000 });
  const signal = new AbortController().signal;
  assert.equal(await worker.step(signal), 'busy');
  assert.equal(worker.delayMs('busy'), 500, '4 blocks at 8 a second');
  await worker.step(signal);
  assert.equal(worker.delayMs('busy'), 2000, '8000 bytes at 4000 a second');
  assert.deepEqual(limits[0], { blocksMax: 8, bytesMax: 4000 }, 'a step takes at most a second of either');
  assert.deepEqual(worker.status?.(), { rebalance: progress });
});

test('rebalanceWorker - a rate of 0 blocks pauses moving, and 0 bytes means no byte limit', async () => {
  const paused = fake([]);
  const worker = rebalanceWorker(paused.rebalance, { rateBlocksPerSec: 0, rateBytesPerSec: 0 });
  assert.equal(await worker.step(new AbortController().signal), 'idle');
  assert.deepEqual(paused.limits, [], 'no step taken');
  const unlimited = fake([{ state: 'busy', blocks: 16, bytes: 1e9 }]);
  const fast = rebalanceWorker(unlimited.rebalance, { rateBlocksPerSec: 1000, rateBytesPerSec: 0 });
  await fast.step(new AbortController().signal);
  assert.deepEqual(unlimited.limits[0], { blocksMax: 16, bytesMax: Number.POSITIVE_INFINITY });
  assert.equal(fast.delayMs('busy'), 16);
});
