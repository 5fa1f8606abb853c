// A storage-class transition of one version: its blocks are copied into new blocks under the new class's
// redundancy, then one commit swaps the record's data and class, checking the record is unchanged, and hands
// the old blocks to GC. The version stays readable throughout (the old blocks serve until the swap); a crash
// before the swap leaves the new blocks as orphans for the orphan sweep, and the next pass redoes the job.
import type { ObjectContext } from './context.js';
import type { BlockRef, Redundancy } from '../blocks/types.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord, type CurrentEntry, type VersionRecord } from './records.js';
import { blocksOf, claimBlocks, currentEntryOf, readBucket, releaseBlocks } from './key-state.js';
import { redundancyOf } from './put-object.js';
import type { Write } from '../meta/types.js';

export interface TransitionHooks {
  /** Runs once the new blocks are durable, before the swap commits. */
  beforeSwap?(): Promise<void>;
}

export type TransitionResult = 'done' | 'gone' | 'conflict';

export interface TransitionTarget {
  bucket: string;
  key: string;
  versionKey: string;
  storageClass: string;
}

export async function transitionVersion(ctx: ObjectContext, target: TransitionTarget, hooks: TransitionHooks = {}): Promise<TransitionResult> {
  const vkey = keys.version(target.bucket, target.key, Buffer.from(target.versionKey, 'hex'));
  const [buf, currentBuf] = [await ctx.meta.get(vkey), await ctx.meta.get(keys.current(target.bucket, target.key))];
  if (!buf) return 'gone';
  const record = decodeRecord<VersionRecord>(buf);
  if (record.deleteMarker || record.storageClass === target.storageClass) return 'gone';
  const bucket = (await readBucket(ctx, target.bucket)).record;
  const redundancy = redundancyOf(ctx, bucket, target.storageClass);
  const old = blocksOf(record);
  // Blocks already under the new class's redundancy (or inline data) keep their bytes: only the class changes.
  const wanted = redundancy ?? ctx.blocks.defaultRedundancy();
  const recode = old.some((ref) => !sameRedundancy(ref.redundancy, wanted));
  const copies: BlockRef[] = [];
  try {
    if (recode) for (const ref of old) copies.push(await copyBlock(ctx, ref, redundancy));
    await hooks.beforeSwap?.();
    const next: VersionRecord = { ...record, storageClass: target.storageClass, data: { ...record.data, ...(recode ? { blocks: copies } : {}) } };
    const writes: Write[] = [{ key: vkey, value: encodeRecord(next) }, ...(recode ? [...claimBlocks(copies), ...releaseBlocks(ctx, old)] : [])];
    // The current entry (what listings read) names the class too, when this version is the current one.
    const current = currentBuf ? decodeRecord<CurrentEntry>(currentBuf) : undefined;
    const checks = [{ key: vkey, value: buf }];
    if (current?.versionKey === record.versionKey) {
      checks.push({ key: keys.current(target.bucket, target.key), value: currentBuf! });
      writes.push({ key: keys.current(target.bucket, target.key), value: encodeRecord(currentEntryOf(next)) });
    }
    if (await ctx.meta.commit({ checks, writes })) return 'done';
    // Changed meanwhile (overwritten, tagged, deleted): the copies are nobody's, so they go to GC now.
    await ctx.meta.commit({ checks: [], writes: releaseBlocks(ctx, copies) });
    return 'conflict';
  } finally {
    for (const ref of copies) ctx.blocksInFlight?.delete(ref.id);
  }
}

function sameRedundancy(a: Redundancy, b: Redundancy): boolean {
  return a.kind === 'replicate' ? b.kind === 'replicate' && a.copies === b.copies : b.kind === 'rs' && a.data === b.data && a.parity === b.parity;
}

/** A copy of one block under `redundancy`, streamed (no whole block in memory). */
async function copyBlock(ctx: ObjectContext, ref: BlockRef, redundancy: ReturnType<typeof redundancyOf>): Promise<BlockRef> {
  const id = ctx.blocks.newId();
  // Held from before the first shard to the swap, so the orphan sweep never takes a copy in the making.
  ctx.blocksInFlight?.add(id);
  try {
    return await ctx.blocks.write(ctx.blocks.read(ref, { start: 0, end: ref.size }), { id, ...(redundancy ? { redundancy } : {}) });
  } catch (err) {
    ctx.blocksInFlight?.delete(id);
    throw err;
  }
}
