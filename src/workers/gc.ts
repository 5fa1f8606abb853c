// The GC workers: one deletes the blocks the GC queue holds once due, the other the completion records of
// multipart uploads once expired. Both keep their place in the MetaStore itself (what is due is what is left).
import type { ObjectContext } from '../objects/context.js';
import { gcBlocksStep } from '../objects/gc.js';
import { expireCompletions } from '../objects/completed-uploads.js';
import type { Worker, WorkerState } from './worker.js';

/** Queue entries one step handles at most. */
const gcStepEntries = 64;

/** Drains due GC entries a step at a time; waits `intervalMs` once the queue has nothing due. */
export function gcWorker(ctx: ObjectContext, intervalMs: number): Worker {
  // Counted in this process while it holds the lease: the metrics' GC progress.
  let blocksDeleted = 0;
  return {
    name: 'gc',
    step: async () => {
      const deleted = await gcBlocksStep(ctx, gcStepEntries);
      blocksDeleted += deleted;
      return deleted < gcStepEntries ? 'idle' : 'busy';
    },
    delayMs: (state: WorkerState) => (state === 'idle' ? intervalMs : 0),
    status: () => ({ blocksDeleted }),
  };
}

/** Deletes expired completion records of multipart uploads (kept an hour so a retried completion replays). */
export function completionExpiryWorker(ctx: ObjectContext, intervalMs: number): Worker {
  return {
    name: 'completion-expiry',
    step: async () => ((await expireCompletions(ctx, gcStepEntries)) < gcStepEntries ? 'idle' : 'busy'),
    delayMs: (state: WorkerState) => (state === 'idle' ? intervalMs : 0),
  };
}
