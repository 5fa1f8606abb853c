// The write path of one block: cut the source into stripes, encode each, append its chunks to one
// shard writer per target, then commit every shard. Memory stays at two stripes whatever the size.
import { assert } from '../util/assert.js';
import { StoreError } from '../util/errors.js';
import { allocStripe, chunkOf, resizeStripe, type Codec, type StripeBuffers } from './codec/index.js';
import type { LocalDrive } from './drive.js';
import { shardBlockBytes } from './limits.js';
import type { ShardWriter } from './shard-file.js';
import { alignUp } from './stripe-layout.js';
import { abortError, chunksOf } from './streams.js';

/** Where shard i goes; `drive` is undefined when the target is known to be down. */
export interface ShardTarget {
  target: string;
  drive: LocalDrive | undefined;
}

export interface ShardFailure {
  shardIndex: number;
  target: string;
  error: unknown;
}

export interface BlockWritePlan {
  blockId: string;
  codec: Codec;
  stripeBytes: number;
  targets: ShardTarget[];
  /** Shards that must be durable for the write to count. */
  quorum: number;
  signal?: AbortSignal;
}

/** Writes the block; resolves with its size and the shards that could not be written (healable). */
export async function writeBlock(
  plan: BlockWritePlan,
  source: AsyncIterable<unknown>,
): Promise<{ size: number; failed: ShardFailure[] }> {
  assert(plan.targets.length === plan.codec.dataShards + plan.codec.parityShards, 'One target per shard is required');
  const shards = new ShardSet(plan);
  let inflight: Promise<void> | undefined;
  try {
    await shards.open();
    const size = await fillStripes(plan, source, async (stripe) => {
      await inflight;
      inflight = shards.writeStripe(stripe);
      inflight.catch(() => undefined); // rejection is observed by the next await; avoid an unhandled one meanwhile
      if (stripe.last) await inflight;
    });
    await inflight;
    await shards.commit();
    return { size, failed: shards.failures };
  } catch (err) {
    await inflight?.catch(() => undefined);
    await shards.abort();
    throw plan.signal?.aborted ? abortError(plan.signal, `Cannot write block "${plan.blockId}"`) : err;
  }
}

interface FilledStripe extends StripeBuffers {
  last: boolean;
}

/**
 * Copies the source into stripe buffers and hands over each full one. Two buffers alternate, so one
 * fills while the other is encoded and written; `onStripe` must be done with a buffer before its next turn.
 */
async function fillStripes(
  plan: BlockWritePlan,
  source: AsyncIterable<unknown>,
  onStripe: (stripe: FilledStripe) => Promise<void>,
): Promise<number> {
  const { codec, stripeBytes } = plan;
  const chunkBytes = stripeBytes / codec.dataShards;
  const buffers = [allocStripe(codec, chunkBytes), allocStripe(codec, chunkBytes)];
  let turn = 0;
  let fill = 0;
  let size = 0;
  for await (const chunk of chunksOf(source, plan.signal)) {
    for (let offset = 0; offset < chunk.length; ) {
      const stripe = buffers[turn % 2] as StripeBuffers;
      const taken = chunk.copy(stripe.data, fill, offset, offset + Math.min(chunk.length - offset, stripeBytes - fill));
      fill += taken;
      offset += taken;
      size += taken;
      if (fill === stripeBytes) {
        await onStripe({ ...stripe, last: false });
        turn++;
        fill = 0;
      }
    }
  }
  if (fill > 0) {
    const stripe = buffers[turn % 2] as StripeBuffers;
    const lastChunkBytes = alignUp(Math.ceil(fill / codec.dataShards), codec.chunkAlignBytes);
    const last = resizeStripe(codec, stripe, lastChunkBytes);
    last.data.fill(0, fill); // the pad is part of the parity, so it must be deterministic
    await onStripe({ ...last, last: true });
  }
  return size;
}

/** The k+m shard writers of one block and the quorum bookkeeping over them. */
class ShardSet {
  private readonly writers: (ShardWriter | undefined)[];
  readonly failures: ShardFailure[] = [];

  constructor(private readonly plan: BlockWritePlan) {
    this.writers = plan.targets.map(() => undefined);
  }

  async open(): Promise<void> {
    const { blockId, targets } = this.plan;
    await Promise.all(
      targets.map(async ({ target, drive }, shardIndex) => {
        try {
          if (!drive) throw new StoreError('ERR_SHARD_MISSING', `Drive "${target}" is missing`);
          this.writers[shardIndex] = await drive.createShardWriter(blockId, shardIndex, shardBlockBytes);
        } catch (error) {
          this.fail(shardIndex, error);
        }
      }),
    );
    this.checkQuorum();
  }

  async writeStripe(stripe: StripeBuffers): Promise<void> {
    this.plan.signal?.throwIfAborted();
    const { codec } = this.plan;
    if (codec.parityShards > 0) await codec.encode(stripe);
    await Promise.all(
      this.writers.map(async (writer, shardIndex) => {
        if (!writer) return;
        try {
          await writer.append(chunkOf(stripe, codec.dataShards, shardIndex));
        } catch (error) {
          this.fail(shardIndex, error);
        }
      }),
    );
    this.checkQuorum();
  }

  async commit(): Promise<void> {
    this.plan.signal?.throwIfAborted();
    const committed: number[] = [];
    await Promise.all(
      this.writers.map(async (writer, shardIndex) => {
        if (!writer) return;
        try {
          await writer.commit();
          committed.push(shardIndex);
        } catch (error) {
          this.fail(shardIndex, error);
        }
      }),
    );
    if (committed.length >= this.plan.quorum) return;
    // Below quorum nothing may look written: remove the shards that did land (GC would catch any we miss).
    await Promise.all(committed.map((i) => this.plan.targets[i]?.drive?.deleteShard(this.plan.blockId, i).catch(() => undefined)));
    this.checkQuorum();
  }

  async abort(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer?.abort()));
  }

  private fail(shardIndex: number, error: unknown): void {
    const writer = this.writers[shardIndex];
    this.writers[shardIndex] = undefined;
    void writer?.abort();
    const target = this.plan.targets[shardIndex]?.target ?? '?';
    this.failures.push({ shardIndex, target, error });
  }

  private checkQuorum(): void {
    const alive = this.writers.filter((w) => w !== undefined).length;
    if (alive >= this.plan.quorum) return;
    const first = this.failures[0];
    throw new StoreError(
      'ERR_QUORUM_UNREACHABLE',
      `Cannot write block "${this.plan.blockId}": ${alive} of ${this.writers.length} shards writable, ${this.plan.quorum} needed`,
      { cause: first?.error },
    );
  }
}
