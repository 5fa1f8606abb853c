// Moving one block's shards to the newest layout epoch's targets (the rebalance's unit of work): copy each
// misplaced shard from where it is now, or rebuild it from the others when that fails, and delete the old
// copies only once every new one is durable. It never touches metadata: the caller walks the blocks.
import { isStoreError, StoreError } from '../util/errors.js';
import type { Codec } from './codec/index.js';
import type { ShardSource } from './block-reader.js';
import { healBlock } from './block-healer.js';
import { shardBlockBytes } from './limits.js';
import type { ShardStore } from './shard-store.js';
import { shardBytesOf, type StripeLayout } from './stripe-layout.js';
import type { MoveResult, ShardCheck } from './types.js';

export interface MovePlan {
  blockId: string;
  codec: Codec;
  layout: StripeLayout;
  /** Per shard: its places, the newest epoch's target first (where it must end up), then older ones. */
  places: readonly (readonly ShardSource[])[];
  signal?: AbortSignal;
  /** Damage met on other shards while rebuilding (for the healer's queue). */
  onDamage: (shardIndex: number, error: StoreError) => void;
}

/**
 * Moves every shard whose newest target is not one that already holds it. Idempotent: a shard already at
 * its newest target (a crash came between a copy and the delete) only has its old copies deleted.
 */
export async function moveBlockShards(plan: MovePlan): Promise<MoveResult> {
  const result: MoveResult = { shardsMoved: 0, shardsCopied: 0, shardsRebuilt: 0, bytesMoved: 0, shardsFailed: 0, shardsBlocked: 0 };
  const shardBytes = shardBytesOf(plan.layout);
  const placed: number[] = []; // at the newest target now, durably: their old copies may go
  const rebuild: number[] = [];
  for (let i = 0; i < plan.places.length; i++) {
    const [to, ...from] = plan.places[i]!;
    if (!to || from.length === 0) continue; // the newest epoch keeps it where it was
    plan.signal?.throwIfAborted();
    if (!to.store) {
      result.shardsFailed++; // the new target is down: the old copy stays, a later pass retries
      continue;
    }
    const shard = { blockId: plan.blockId, shardIndex: i };
    if (await to.store.statShard(shard, { ...signalOf(plan) }).catch(() => undefined)) {
      placed.push(i);
      continue;
    }
    if (await copyShard(plan, i, to.store, from, shardBytes)) {
      placed.push(i);
      result.shardsCopied++;
    } else {
      rebuild.push(i);
    }
  }
  if (rebuild.length > 0) {
    const rebuilt = await rebuildShards(plan, rebuild);
    placed.push(...rebuilt);
    result.shardsRebuilt = rebuilt.length;
    result.shardsFailed += rebuild.length - rebuilt.length;
  }
  result.shardsMoved = result.shardsCopied + result.shardsRebuilt;
  result.bytesMoved = result.shardsMoved * shardBytes;
  // Only now, every new copy durable (committed: fsynced and renamed), do the old ones go. A place that
  // is down keeps its stale copy: it is never read again once the epoch is settled (see the docs).
  await Promise.all(
    placed.flatMap((i) =>
      plan.places[i]!.slice(1).map((old) => old.store?.deleteShard({ blockId: plan.blockId, shardIndex: i }).catch(() => undefined)),
    ),
  );
  return result;
}

function signalOf(plan: MovePlan): { signal?: AbortSignal } {
  return plan.signal ? { signal: plan.signal } : {};
}

/**
 * Copies shard `shardIndex` from the first of `from` that holds it to `target`, verifying every checksum
 * block as it reads (a corrupt or unreadable copy is given up for the next older one). True once the copy
 * is committed; false when no place could give it whole.
 */
async function copyShard(plan: MovePlan, shardIndex: number, target: ShardStore, from: readonly ShardSource[], shardBytes: number): Promise<boolean> {
  const shard = { blockId: plan.blockId, shardIndex };
  const options = signalOf(plan);
  // No call moves more than a stripe's chunk, so a remote target's RPC limits hold.
  const pieceBytes = Math.max(shardBlockBytes, plan.layout.chunkBytes);
  for (const source of from) {
    if (!source.store) continue;
    const reader = await source.store.openShard(shard, { ...options, shardBytes }).catch((err: unknown) => {
      if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
      return undefined;
    });
    if (!reader) continue;
    const writer = await target.createShard(shard, { ...options, blockBytes: shardBlockBytes }).catch((err: unknown) => {
      if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
      return undefined;
    });
    try {
      if (!writer) return false; // the target refuses writes: a rebuild would fail the same way
      for (let at = 0; at < shardBytes; at += pieceBytes) {
        plan.signal?.throwIfAborted();
        const pieces = await reader.readPieces(at, Math.min(shardBytes, at + pieceBytes), options);
        // One append per piece read: over the node RPC each append is a call.
        await writer.append(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), { ...options, last: at + pieceBytes >= shardBytes });
      }
      await writer.commit(options);
      return true;
    } catch (err) {
      await writer?.abort();
      if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
      // A corrupt block in this copy (or a write that failed): try the next older copy, then a rebuild.
    } finally {
      await reader.close();
    }
  }
  return false;
}

/**
 * Rebuilds shards `indices` onto their newest targets from the block's other shards, wherever those are
 * (the heal path). Returns the indices rebuilt; none when fewer than k others can be read.
 */
async function rebuildShards(plan: MovePlan, indices: readonly number[]): Promise<number[]> {
  const missing = new StoreError('ERR_SHARD_MISSING', `Cannot copy the shards of block "${plan.blockId}" being moved`);
  const sources: ShardSource[] = plan.places.map((places, i) => {
    const [to, ...older] = places as [ShardSource, ...ShardSource[]];
    // A shard being rebuilt is written to its new target and never read; the others are read anywhere.
    return indices.includes(i) ? { target: to.target, store: to.store } : { ...to, fallbacks: older };
  });
  const checks: ShardCheck[] = sources.map((s, shardIndex) => (indices.includes(shardIndex) ? { shardIndex, target: s.target, state: 'missing', error: missing } : { shardIndex, target: s.target, state: 'ok' }));
  try {
    const healed = await healBlock({ blockId: plan.blockId, codec: plan.codec, layout: plan.layout, sources, ...signalOf(plan), onDamage: plan.onDamage }, checks);
    return healed.rebuilt.map((r) => r.shardIndex);
  } catch (err) {
    if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
    return [];
  }
}
