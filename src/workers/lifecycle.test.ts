import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lifecycleWorker } from './lifecycle.js';
import type { LifecycleProgress } from '../objects/lifecycle.js';

const emptyCounts = { versionsScanned: 0, currentExpired: 0, noncurrentExpired: 0, deleteMarkersRemoved: 0, transitioned: 0, uploadsAborted: 0, lockedSkipped: 0, conflicts: 0 };

/** A Lifecycle stand-in: a pass of `stepsPerPass` steps, started when asked. */
function fakeLifecycle(stepsPerPass: number, nowMs: () => number) {
  let progress: LifecycleProgress = { ...emptyCounts, running: false };
  let left = 0;
  let starts = 0;
  return {
    lastStepKeys: () => 128,
    starts: () => starts,
    progress: async () => progress,
    start: async () => {
      if (!progress.running) {
        starts++;
        left = stepsPerPass;
        progress = { ...emptyCounts, running: true, startedMs: nowMs() };
      }
      return progress;
    },
    step: async () => {
      if (!progress.running) return 'idle' as const;
      if (--left === 0) progress = { ...progress, running: false, finishedMs: nowMs() };
      return 'busy' as const;
    },
  };
}

test('lifecycleWorker - starts a pass once per interval by its clock and idles between', async () => {
  const clock = { ms: 1_000_000 };
  const lc = fakeLifecycle(2, () => clock.ms);
  const worker = lifecycleWorker(lc, { rateKeysPerSec: 1000, intervalMs: 86_400_000, nowMs: () => clock.ms });
  const signal = new AbortController().signal;
  assert.equal(await worker.step(signal), 'busy', 'the first pass starts at once');
  assert.equal(await worker.step(signal), 'busy');
  assert.equal(await worker.step(signal), 'idle');
  clock.ms += 86_400_000 - 1;
  assert.equal(await worker.step(signal), 'idle');
  assert.equal(lc.starts(), 1);
  clock.ms += 1;
  assert.equal(await worker.step(signal), 'busy');
  assert.equal(lc.starts(), 2);
});

test('lifecycleWorker - paces steps to the rate and starts nothing on its own when the interval is 0', async () => {
  const clock = { ms: 5 };
  const lc = fakeLifecycle(1, () => clock.ms);
  const worker = lifecycleWorker(lc, { rateKeysPerSec: 128, intervalMs: 0, nowMs: () => clock.ms });
  assert.equal(await worker.step(new AbortController().signal), 'idle');
  assert.equal(lc.starts(), 0);
  assert.equal(worker.delayMs('busy'), 1000, 'a step of 128 keys at 128 keys/s');
  assert.throws(() => lifecycleWorker(lc, { rateKeysPerSec: 0, intervalMs: 0 }), RangeError);
});
