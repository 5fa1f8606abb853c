// The orphan sweep worker: deletes blocks on the drives that no metadata references, a bounded number of
// blocks per step. A sweep's place is the drives' id-ordered walk, kept by the process that runs it: a
// sweep cut short (stop, lost lease) starts over, which only costs its time.
import type { BlockInventory, StoredBlock } from '../blocks/types.js';
import type { ObjectContext } from '../objects/context.js';
import { sweepBlock } from '../objects/gc.js';
import type { Logger } from '../util/log.js';
import type { Worker } from './worker.js';

/** Stored blocks one step looks at at most. */
const sweepStepBlocks = 256;

export interface OrphanSweepOptions {
  graceMs: number;
  intervalMs: number;
  log: Logger;
  nowMs?: () => number;
}

/**
 * Sweeps when it starts, again once the grace has passed (a crash's last writes were too young for the
 * first sweep: everything written before the start is due by then), then every interval. A crash therefore
 * costs its leftovers' space for at most the grace after the restart.
 */
export function orphanSweepWorker(ctx: ObjectContext, inventory: BlockInventory, options: OrphanSweepOptions): Worker {
  const nowMs = options.nowMs ?? Date.now;
  let sweeps = 0;
  let nextSweepMs = nowMs();
  let sweep: { blocks: AsyncIterator<StoredBlock>; signal: AbortSignal; seen: number; deleted: number } | undefined;
  return {
    name: 'orphan-sweep',
    async step(signal) {
      if (!sweep || sweep.signal !== signal) {
        if (nowMs() < nextSweepMs) return 'idle';
        sweep = { blocks: inventory.storedBlocks({ signal })[Symbol.asyncIterator](), signal, seen: 0, deleted: 0 };
      }
      for (let i = 0; i < sweepStepBlocks; i++) {
        const next = await sweep.blocks.next();
        if (next.done) {
          if (sweep.deleted > 0) options.log.info('Deleted orphaned blocks', { blocksSeen: sweep.seen, orphansDeleted: sweep.deleted });
          sweep = undefined;
          nextSweepMs = nowMs() + (++sweeps === 1 ? Math.min(options.graceMs + 1000, options.intervalMs) : options.intervalMs);
          return 'idle';
        }
        sweep.seen++;
        if (await sweepBlock(ctx, inventory, next.value, options.graceMs)) sweep.deleted++;
      }
      return 'busy';
    },
    // Idle means waiting for the next sweep; a second is fine-grained enough for a schedule of minutes.
    delayMs: (state) => (state === 'idle' ? Math.max(0, Math.min(1000, nextSweepMs - nowMs())) : 0),
  };
}
