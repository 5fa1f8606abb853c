// The lifecycle worker: starts a pass of objects/lifecycle.ts once per interval (a day by default) and
// steps it under its lease, throttled to a number of object keys per second. A pass another process
// started counts: the schedule is the cluster's, read from the pass in the MetaStore.
import type { Lifecycle, LifecycleProgress } from '../objects/lifecycle.js';
import type { Worker } from './worker.js';

/** Keys (or uploads) one step handles at most: a step stays well under a second at the default rate. */
const lifecycleStepKeysMax = 256;

export interface LifecycleWorkerOptions {
  /** Object keys per second a pass may judge; transitions inside a step are counted as keys too. */
  rateKeysPerSec: number;
  /** Start a pass this long after the last one started; 0: only when asked through the admin API. */
  intervalMs: number;
  nowMs?: () => number;
}

export function lifecycleWorker(lifecycle: Pick<Lifecycle, 'step' | 'start' | 'progress' | 'lastStepKeys'>, options: LifecycleWorkerOptions): Worker {
  if (!(options.rateKeysPerSec > 0)) throw new RangeError(`Cannot run lifecycle at ${options.rateKeysPerSec} keys/s: expected a positive rate`);
  const nowMs = options.nowMs ?? Date.now;
  const keysMax = Math.max(1, Math.min(lifecycleStepKeysMax, Math.floor(options.rateKeysPerSec)));
  let progress: LifecycleProgress | undefined;
  return {
    name: 'lifecycle',
    async step(signal) {
      progress = await lifecycle.progress();
      const due = progress.startedMs === undefined || nowMs() - progress.startedMs >= options.intervalMs;
      if (!progress.running && options.intervalMs > 0 && due) progress = await lifecycle.start();
      if (!progress.running) return 'idle';
      return lifecycle.step(keysMax, signal);
    },
    // Idle: the next pass is at most a day away and an on-demand start should be seen soon, so poll each second.
    // Busy: paced by the keys the step looked at (a step that only moved to the next bucket waits little).
    delayMs: (state) => (state === 'idle' ? 1000 : (Math.max(1, lifecycle.lastStepKeys()) / options.rateKeysPerSec) * 1000),
    status: () => (progress ? { lifecycle: progress } : undefined),
  };
}
