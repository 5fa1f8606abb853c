// Scrub and heal of one block: verify every shard end to end, and rebuild the bad ones stripe by
// stripe from k good ones onto their targets in the newest layout epoch. One block is one bounded unit of heal work.
import { isStoreError, StoreError } from '../util/errors.js';
import { chunkOf } from './codec/index.js';
import { openAt, openFirst, placesOf, StripeReader, type BlockReadPlan } from './block-reader.js';
import { shardBlockBytes } from './limits.js';
import type { ShardWriteStream } from './shard-store.js';
import { shardBytesOf } from './stripe-layout.js';
import type { HealResult, ShardCheck } from './types.js';

/** Scrub reads shards in pieces of this size, so memory stays small for any block. */
const scrubReadBytes = 1024 * 1024;

/** Reads every byte of every shard, verifying checksums; reports each bad shard through plan.onDamage. */
export async function scrubBlock(plan: BlockReadPlan): Promise<ShardCheck[]> {
  const shardBytes = shardBytesOf(plan.layout);
  return Promise.all(
    plan.sources.map(async (source, shardIndex): Promise<ShardCheck> => {
      const { target } = source;
      try {
        // Wherever the shard is now: at an older epoch's place while a rebalance moves it, it is present.
        // The reads are inside: a remote open is lazy, so a place without the shard fails only at its first read.
        await openFirst(placesOf(source), async (place) => {
          const reader = await openAt(place, plan.blockId, shardIndex, { shardBytes });
          try {
            for (let at = 0; at < shardBytes; at += scrubReadBytes) {
              plan.signal?.throwIfAborted();
              await reader.readPieces(at, Math.min(shardBytes, at + scrubReadBytes)); // verifies; the bytes are not needed
            }
          } finally {
            await reader.close();
          }
        });
        return { shardIndex, target, state: 'ok' };
      } catch (error) {
        if (!isStoreError(error)) throw error;
        plan.onDamage(shardIndex, error);
        return { shardIndex, target, state: error.code === 'ERR_SHARD_CORRUPT' ? 'corrupt' : 'missing', error };
      }
    }),
  );
}

/**
 * Rebuilds the shards `checks` found bad. Shards whose drive is missing are skipped (they need a
 * layout change, not a heal). Throws ERR_QUORUM_UNREACHABLE when fewer than k shards are good.
 */
export async function healBlock(plan: BlockReadPlan, checks: ShardCheck[]): Promise<HealResult> {
  const result: HealResult = { id: plan.blockId, rebuilt: [], skipped: [] };
  const bad = checks.filter((c) => c.state !== 'ok');
  if (bad.length === 0) return result;
  const good = checks.length - bad.length;
  if (good < plan.codec.dataShards) {
    throw new StoreError('ERR_QUORUM_UNREACHABLE', `Cannot heal block "${plan.blockId}": ${good} of ${plan.codec.dataShards} needed shards are good`);
  }
  const writers = new Map<number, ShardWriteStream>();
  try {
    for (const check of bad) {
      const store = plan.sources[check.shardIndex]?.store;
      if (!store) {
        result.skipped.push({ shardIndex: check.shardIndex, target: check.target, reason: 'drive is missing' });
        continue;
      }
      const shard = { blockId: plan.blockId, shardIndex: check.shardIndex };
      writers.set(check.shardIndex, await store.createShard(shard, { blockBytes: shardBlockBytes }));
    }
    if (writers.size === 0) return result;
    await rebuildInto(plan, checks, writers);
    for (const [shardIndex, writer] of writers) {
      await writer.commit();
      result.rebuilt.push({ shardIndex, target: plan.sources[shardIndex]?.target ?? '?' });
    }
    return result;
  } catch (err) {
    await Promise.all([...writers.values()].map((w) => w.abort()));
    throw err;
  }
}

async function rebuildInto(plan: BlockReadPlan, checks: ShardCheck[], writers: Map<number, ShardWriteStream>): Promise<void> {
  const knownBad = new Map<number, StoreError>();
  for (const c of checks) {
    if (c.state !== 'ok') knownBad.set(c.shardIndex, isStoreError(c.error) ? c.error : new StoreError('ERR_SHARD_MISSING', 'Shard is bad'));
  }
  const reader = new StripeReader({ ...plan, onDamage: plan.onDamage }, knownBad);
  const wanted = [...writers.keys()];
  try {
    for (let stripe = 0; stripe < plan.layout.stripeCount; stripe++) {
      plan.signal?.throwIfAborted();
      const buffers = await reader.decodeStripe(stripe, wanted);
      // `last` on the last stripe: a rebuilt shard of one stripe is one append that says so (a pack record).
      const last = stripe === plan.layout.stripeCount - 1;
      await Promise.all(wanted.map((i) => writers.get(i)?.append(chunkOf(buffers, plan.codec.dataShards, i), { last })));
    }
  } finally {
    await reader.close();
  }
}
