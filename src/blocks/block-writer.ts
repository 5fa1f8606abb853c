// The write path of one block: cut the source into stripes, encode each, append its chunks to one
// shard writer per target, then commit every shard. Memory stays at two stripes whatever the size.
import { assert } from '../util/assert.js';
import { DrivesFullError, isNoSpace, isStoreError, StoreError, type FullDrive } from '../util/errors.js';
import { allocStripe, chunkOf, resizeStripe, type Codec, type StripeBuffers } from './codec/index.js';
import { shardBlockBytes } from './limits.js';
import type { BufferPool } from './buffer-pool.js';
import type { ShardStore, ShardWriteStream } from './shard-store.js';
import { alignUp } from './stripe-layout.js';
import { abortError } from './streams.js';
import { chunkSourceOf } from '../util/chunk-source.js';
import { domainLossesSurvived } from './failure-domains.js';

/** Where shard i goes; `store` is undefined when the target is known to be down. */
export interface ShardTarget {
  target: string;
  store: ShardStore | undefined;
  /** Where the target lives (TargetSlot.where), for the operator's log when it fails. */
  where?: string;
  /** Its failure domain (the node in a cluster); default: the target itself. */
  domain?: string;
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
  /**
   * Whole failure domains (nodes) whose loss the durable shards must survive with `dataShards` left
   * (default 0): with several shards on one node, `quorum` shards alone do not say that.
   */
  domainLossesMin?: number;
  signal?: AbortSignal;
  /** Where stripe buffers come from and go back to once the block is written; without one they allocate. */
  pool?: BufferPool;
}

/** Writes the block; resolves with its size and the shards that could not be written (healable). */
export async function writeBlock(
  plan: BlockWritePlan,
  source: AsyncIterable<unknown>,
): Promise<{ size: number; failed: ShardFailure[] }> {
  assert(plan.targets.length === plan.codec.dataShards + plan.codec.parityShards, 'One target per shard is required');
  const shards = new ShardSet(plan);
  const buffers = new StripeBufferSet(plan);
  let inflight: Promise<void> | undefined;
  try {
    await shards.open();
    const size = await fillStripes(plan, buffers, source, async (stripe) => {
      await inflight;
      inflight = shards.writeStripe(stripe, stripe.last);
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
  } finally {
    // Every encode and append has settled by now (awaited above), so nothing references the stripes, unless
    // an append timed out: its write may still be reading a stripe, so those go to the GC, not the pool.
    buffers.release({ reuse: !shards.timedOut });
  }
}

/**
 * The two stripe buffers of one block write, taken from the plan's pool on first use: a block of one
 * stripe (a 1 MiB PUT) needs only one. release() gives them back once no I/O can touch them.
 */
class StripeBufferSet {
  private readonly stripes: (StripeBuffers | undefined)[] = [undefined, undefined];
  private readonly taken: Buffer[] = [];
  private readonly chunkBytes: number;

  constructor(private readonly plan: BlockWritePlan) {
    this.chunkBytes = plan.stripeBytes / plan.codec.dataShards;
  }

  get(turn: number): StripeBuffers {
    const slot = turn % 2;
    let stripe = this.stripes[slot];
    if (!stripe) {
      const { codec, pool } = this.plan;
      if (!pool) stripe = allocStripe(codec, this.chunkBytes);
      else {
        const take = (bytes: number) => {
          if (bytes === 0) return Buffer.alloc(0); // no parity (one copy)
          const buffer = pool.take(bytes);
          this.taken.push(buffer);
          return buffer.subarray(0, bytes);
        };
        stripe = { data: take(codec.dataShards * this.chunkBytes), parity: take(codec.parityShards * this.chunkBytes), chunkBytes: this.chunkBytes };
      }
      this.stripes[slot] = stripe;
    }
    return stripe;
  }

  release(options: { reuse: boolean }): void {
    const taken = this.taken.splice(0);
    if (options.reuse) for (const buffer of taken) this.plan.pool?.give(buffer);
  }
}

interface FilledStripe extends StripeBuffers {
  last: boolean;
}

/**
 * Copies the source into stripe buffers and hands over each full one. Two buffers alternate, so one
 * fills while the other is encoded and written; `onStripe` must be done with a buffer before its next turn.
 * A full stripe is handed over when the next byte arrives or the source ends, so the last one always says
 * so (a block of whole stripes, e.g. a 1 MiB PUT, included): its shards then need one write fewer.
 */
async function fillStripes(
  plan: BlockWritePlan,
  buffers: StripeBufferSet,
  input: AsyncIterable<unknown>,
  onStripe: (stripe: FilledStripe) => Promise<void>,
): Promise<number> {
  const { codec, stripeBytes, signal } = plan;
  let turn = 0;
  let fill = 0;
  let size = 0;
  let full = false;
  const source = chunkSourceOf(input);
  // One listener for the whole body: an abort ends a wait on an idle source at once, through the source.
  const onAbort = () => source.cancel(abortError(signal!, 'Operation cancelled'));
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw abortError(signal, 'Operation cancelled');
    for (;;) {
      const chunk = source.take();
      if (chunk === null) break;
      if (chunk === undefined) {
        await source.wait();
        continue;
      }
      for (let offset = 0; offset < chunk.length; ) {
        if (full) {
          await onStripe({ ...buffers.get(turn), last: false });
          turn++;
          fill = 0;
          full = false;
        }
        const stripe = buffers.get(turn);
        const taken = chunk.copy(stripe.data, fill, offset, offset + Math.min(chunk.length - offset, stripeBytes - fill));
        fill += taken;
        offset += taken;
        size += taken;
        full = fill === stripeBytes;
      }
    }
  } catch (err) {
    source.cancel(err);
    throw signal?.aborted ? abortError(signal, 'Operation cancelled') : err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (full) await onStripe({ ...buffers.get(turn), last: true });
  else if (fill > 0) {
    const stripe = buffers.get(turn);
    const lastChunkBytes = alignUp(Math.ceil(fill / codec.dataShards), codec.chunkAlignBytes);
    const last = resizeStripe(codec, stripe, lastChunkBytes);
    last.data.fill(0, fill); // the pad is part of the parity, so it must be deterministic
    await onStripe({ ...last, last: true });
  }
  return size;
}

/** The k+m shard writers of one block and the quorum bookkeeping over them. */
class ShardSet {
  private readonly writers: (ShardWriteStream | undefined)[];
  readonly failures: ShardFailure[] = [];
  /** A call timed out: its I/O may still be running against the stripe buffers. */
  timedOut = false;

  constructor(private readonly plan: BlockWritePlan) {
    this.writers = plan.targets.map(() => undefined);
  }

  async open(): Promise<void> {
    const { blockId, targets, signal } = this.plan;
    await Promise.all(
      targets.map(async ({ target, store }, shardIndex) => {
        try {
          if (!store) throw new StoreError('ERR_SHARD_MISSING', `Drive "${target}" is missing`);
          this.writers[shardIndex] = await store.createShard({ blockId, shardIndex }, { blockBytes: shardBlockBytes, signal, fresh: true });
        } catch (error) {
          this.fail(shardIndex, error);
        }
      }),
    );
    await this.checkQuorum();
  }

  /** `last`: no stripe follows (the shard writers can finish their files with this write). */
  async writeStripe(stripe: StripeBuffers, last: boolean): Promise<void> {
    this.plan.signal?.throwIfAborted();
    const { codec } = this.plan;
    if (codec.parityShards > 0) await codec.encode(stripe);
    await Promise.all(
      this.writers.map(async (writer, shardIndex) => {
        if (!writer) return;
        try {
          await writer.append(chunkOf(stripe, codec.dataShards, shardIndex), { signal: this.plan.signal, last });
        } catch (error) {
          this.fail(shardIndex, error);
        }
      }),
    );
    await this.checkQuorum();
  }

  async commit(): Promise<void> {
    this.plan.signal?.throwIfAborted();
    const committed: number[] = [];
    await Promise.all(
      this.writers.map(async (writer, shardIndex) => {
        if (!writer) return;
        try {
          await writer.commit(this.plan);
          committed.push(shardIndex);
        } catch (error) {
          this.fail(shardIndex, error);
        }
      }),
    );
    if (this.meetsQuorum(committed)) return;
    // Below quorum nothing may look written: remove the shards that did land (GC would catch any we miss).
    const { blockId, targets } = this.plan;
    await Promise.all(committed.map((shardIndex) => targets[shardIndex]?.store?.deleteShard({ blockId, shardIndex }).catch(() => undefined)));
    await this.checkQuorum(committed);
  }

  /** Enough shards, and spread so that losing `domainLossesMin` whole nodes still leaves enough to read. */
  private meetsQuorum(shards: readonly number[]): boolean {
    if (shards.length < this.plan.quorum) return false;
    const lossesMin = this.plan.domainLossesMin ?? 0;
    if (lossesMin === 0) return true;
    const domains = shards.map((i) => this.plan.targets[i]?.domain ?? this.plan.targets[i]?.target ?? String(i));
    return domainLossesSurvived(domains, this.plan.codec.dataShards) >= lossesMin;
  }

  private aliveShards(): number[] {
    return this.writers.flatMap((w, i) => (w === undefined ? [] : [i]));
  }

  async abort(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer?.abort()));
  }

  private fail(shardIndex: number, error: unknown): void {
    if (isStoreError(error, 'ERR_TARGET_TIMEOUT')) this.timedOut = true;
    const writer = this.writers[shardIndex];
    this.writers[shardIndex] = undefined;
    void writer?.abort();
    const target = this.plan.targets[shardIndex]?.target ?? '?';
    this.failures.push({ shardIndex, target, error });
  }

  /** Throws unless `shards` (default: the writers still alive, a superset of what can commit) meet the quorum. */
  private async checkQuorum(shards: readonly number[] = this.aliveShards()): Promise<void> {
    if (this.meetsQuorum(shards)) return;
    const alive = shards.length;
    const first = this.failures[0];
    const spread = alive >= this.plan.quorum ? `, but not on enough distinct nodes to survive the loss of ${this.plan.domainLossesMin} (several shards share a node)` : '';
    const counts = `${alive} of ${this.writers.length} shards writable, ${this.plan.quorum} needed${spread}`;
    // A full drive fails its shard like any other; when that cost the quorum, say so rather than blame
    // drive health (issue #10).
    const full = this.failures.filter((f) => isNoSpace(f.error));
    if (full.length > 0) {
      const drives = await Promise.all(full.map((f) => fullDrive(f.target, this.plan.targets[f.shardIndex])));
      const names = drives.map((d) => `"${d.id}" (${d.path}${d.usedPercent === undefined ? '' : `, ${d.usedPercent}% used`})`).join(', ');
      throw new DrivesFullError(drives, `Cannot write block "${this.plan.blockId}": drives ${names} are full; ${counts}`, { cause: full[0]!.error });
    }
    throw new StoreError('ERR_QUORUM_UNREACHABLE', `Cannot write block "${this.plan.blockId}": ${counts}`, { cause: first?.error });
  }
}

/**
 * How full a drive is, asked only on the failure path through the store's own bounded probe (never a
 * synchronous statfs: the drive may be the one that hangs).
 */
async function fullDrive(id: string, target: ShardTarget | undefined): Promise<FullDrive> {
  const where = target?.where || id;
  const health = await target?.store?.probe().catch(() => undefined);
  if (health?.totalBytes === undefined || health.freeBytes === undefined || health.totalBytes === 0) return { id, path: where };
  return { id, path: where, usedPercent: Math.round((1 - health.freeBytes / health.totalBytes) * 100) };
}
