// The maintenance worker: heal and scrub steps (objects/maintenance.ts), throttled to the configured
// blocks per second, and a scrub pass started on schedule.
import { maintenanceStepBlocks, type Maintenance, type MaintenanceStep } from '../objects/maintenance.js';
import type { Worker } from './worker.js';

export interface MaintenanceWorkerOptions {
  /** Blocks per second a heal pass (or the damage queue) may check. */
  healRateBlocksPerSec: number;
  /** Blocks per second the scrubber verifies; 0 turns scheduled scrubbing off. */
  scrubRateBlocksPerSec: number;
  /** Start a scrub pass this often; 0: only when asked through the admin API. */
  scrubIntervalMs: number;
  nowMs?: () => number;
}

export function maintenanceWorker(maintenance: Maintenance, options: MaintenanceWorkerOptions): Worker {
  const nowMs = options.nowMs ?? Date.now;
  let lastScrubMs = nowMs();
  let last: MaintenanceStep = 'idle';
  return {
    name: 'maintenance',
    async step(signal) {
      if (options.scrubIntervalMs && options.scrubRateBlocksPerSec > 0 && nowMs() - lastScrubMs >= options.scrubIntervalMs) {
        // A pass another process started counts: the schedule is the cluster's, not this process's.
        const started = (await maintenance.stats()).scrub.startedMs ?? 0;
        lastScrubMs = Math.max(lastScrubMs, started);
        if (nowMs() - lastScrubMs >= options.scrubIntervalMs) {
          lastScrubMs = nowMs();
          await maintenance.startScrub();
        }
      }
      last = await maintenance.step(signal);
      return last === 'idle' ? 'idle' : 'busy';
    },
    delayMs(state) {
      if (state === 'idle') return 500;
      const rate = last === 'heal' ? options.healRateBlocksPerSec : Math.max(options.scrubRateBlocksPerSec, 0.1);
      return (maintenanceStepBlocks / rate) * 1000;
    },
  };
}
