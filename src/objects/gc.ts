// The GC worker: deletes the blocks that metadata commits handed to the GC queue once they are due.
// Each step does a bounded amount of work and can be interrupted anywhere: a block is deleted before
// its queue entry, so a crash between the two only repeats an idempotent delete.
import type { ObjectContext } from './context.js';
import { keys } from './keys.js';
import { decodeRecord } from './records.js';
import type { BlockInventory, BlockRef, StoredBlock } from '../blocks/types.js';
import { expireCompletions } from './completed-uploads.js';

export interface GcStepResult {
  deletedBlocks: number;
  /** True when the due queue was drained by this step. */
  idle: boolean;
}

/** Deletes up to `limit` due blocks of the GC queue; returns how many. */
export async function gcBlocksStep(ctx: ObjectContext, limit = 64): Promise<number> {
  const due = await ctx.meta.scan({ ...keys.gcDueRange(ctx.nowMs()), limit });
  for (const kv of due) {
    await ctx.blocks.delete(decodeRecord<BlockRef>(kv.value));
  }
  if (due.length > 0) {
    await ctx.meta.commit({ checks: [], writes: due.map((kv) => ({ key: kv.key, value: null })) });
  }
  return due.length;
}

/** Due blocks and expired completion records, `limit` of each at most (the workers run them apart). */
export async function gcStep(ctx: ObjectContext, limit = 64): Promise<GcStepResult> {
  const deleted = await gcBlocksStep(ctx, limit);
  const expired = await expireCompletions(ctx, limit);
  return { deletedBlocks: deleted, idle: deleted < limit && expired < limit };
}

/** Runs GC steps until the due queue is empty. */
export async function gcDrain(ctx: ObjectContext): Promise<number> {
  let total = 0;
  for (;;) {
    const step = await gcStep(ctx);
    total += step.deletedBlocks;
    if (step.idle) return total;
  }
}

export interface OrphanSweepResult {
  blocksSeen: number;
  orphansDeleted: number;
}

/**
 * Deletes blocks that the drives hold but no metadata references: shards of writes that crashed before
 * their metadata commit. A block this process is writing is left alone, and so is one whose files changed
 * within the grace period: it may have just finished and be on its way to its commit.
 */
export async function sweepOrphans(ctx: ObjectContext, inventory: BlockInventory, graceMs: number, signal?: AbortSignal): Promise<OrphanSweepResult> {
  const result: OrphanSweepResult = { blocksSeen: 0, orphansDeleted: 0 };
  for await (const block of inventory.storedBlocks(signal ? { signal } : {})) {
    result.blocksSeen++;
    if (await sweepBlock(ctx, inventory, block, graceMs)) result.orphansDeleted++;
  }
  return result;
}

/** Deletes one stored block if it is an orphan past the grace (see sweepOrphans); true when it did. */
export async function sweepBlock(ctx: ObjectContext, inventory: BlockInventory, block: StoredBlock, graceMs: number): Promise<boolean> {
  if (ctx.nowMs() - block.newestMtimeMs < graceMs || ctx.blocksInFlight?.has(block.id)) return false;
  if (await ctx.meta.get(keys.blockOwner(block.id), { fill: false })) return false; // one read per block: keep it out of the cache
  // Released blocks wait in the GC queue without an owner; the queue deletes those itself.
  await inventory.deleteStored(block.id);
  return true;
}
