// The rebalance over the MetaStore: after a layout change, walk every live block (the block-owner space
// 'r', in id order) and have the block store move its misplaced shards to the newest epoch's targets.
// The pass's cursor and progress live in setting `rebalance`, so whichever process runs the worker next
// resumes there; once a walk ends with nothing failed, the newest epoch is settled and reads stop looking
// at older ones. The moving itself (copy, rebuild, delete) is the block layer's (blocks/block-mover.ts).
import type { BlockRebalancing, BlockRef } from '../blocks/types.js';
import type { MetaStore } from '../meta/types.js';
import { isStoreError } from '../util/errors.js';
import { rebalanceMovesInFlight } from '../constants.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord } from './records.js';

export interface RebalanceProgress {
  /** Every block is where this epoch puts it: reads need no older epoch. */
  settledEpoch: number;
  /** The epoch blocks are being moved to (the newest when this pass started); = settledEpoch when idle. */
  toEpoch: number;
  state: 'idle' | 'running';
  blocksChecked: number;
  blocksTotal: number; // estimated when the pass started
  blocksMoved: number;
  shardsMoved: number;
  bytesMoved: number;
  shardsFailed: number;
  /**
   * Shards the walk found it cannot move: the newest epoch is narrower than their block (a drain left
   * fewer nodes than its RS k+m), and they sit on a draining or removed node, which so still holds data.
   * Counted anew by every walk; they move once a wide enough epoch is applied.
   */
  shardsBlocked: number;
  /** Blocks with such shards. */
  blocksBlocked: number;
  startedAtMs: number;
  updatedAtMs: number;
  finishedAtMs?: number;
}

/** What the setting holds: the progress, plus what only the worker reads. */
interface StoredRebalance extends RebalanceProgress {
  /** Hex of the last block-owner key the current walk finished; '' before its first. */
  cursor: string;
  /** When the first walk towards `toEpoch` started: a later walk towards the same epoch keeps it. */
  epochSinceMs: number;
  /** No walk starts before this (a walk that failed, or ended within the write grace, goes again then). */
  retryAtMs?: number;
}

const settingName = 'rebalance';

/** The stored progress, or undefined when no rebalance ever ran (every block is then at its own epoch). */
export async function readRebalanceProgress(meta: MetaStore): Promise<RebalanceProgress | undefined> {
  const stored = await meta.get(keys.setting(settingName), { fill: false });
  return stored ? publicOf(decodeRecord<StoredRebalance>(stored)) : undefined;
}

/**
 * Tells `blocks` the stored settled epoch (at start, before serving, and whenever a process that does not
 * run the worker follows the MetaStore). A stale value is safe: reads then only look at more places.
 */
export async function loadSettledEpoch(meta: MetaStore, blocks: Pick<BlockRebalancing, 'setSettledEpoch'>): Promise<number | undefined> {
  const progress = await readRebalanceProgress(meta);
  if (progress) blocks.setSettledEpoch(progress.settledEpoch);
  return progress?.settledEpoch;
}

function publicOf(stored: StoredRebalance): RebalanceProgress {
  const { cursor: _cursor, epochSinceMs: _since, retryAtMs: _retry, ...progress } = stored;
  // Records stored before blocked shards were counted lack the fields.
  return { ...progress, shardsBlocked: progress.shardsBlocked ?? 0, blocksBlocked: progress.blocksBlocked ?? 0 };
}

export interface RebalanceOptions {
  meta: MetaStore;
  blocks: BlockRebalancing;
  nowMs?: () => number;
  /**
   * A walk settles its epoch only once it started this long after the first walk towards that epoch: a
   * write that began under the older epoch (a gateway that had not seen the new one yet) may commit its
   * block after the walk passed its id, and the next walk moves it. 0 for the single-node server, which
   * applies a new epoch before it serves any write.
   */
  writeGraceMs?: number;
  /** How long a walk that left shards unmoved waits before the next one. */
  retryDelayMs?: number;
  /** The GC delay (ObjectContext.gcDelayMs): a block released while it moved is queued again with it. */
  gcDelayMs?: number;
}

/** What one step may do: move `blocksMax` blocks and `bytesMax` bytes, and look at `lookMax` blocks. */
export interface RebalanceStepLimits {
  blocksMax: number;
  bytesMax: number;
  /** Blocks a step looks at, moved or not (default 256): those whose shards all stay cost one lookup. */
  lookMax?: number;
  signal?: AbortSignal;
}

/** Blocks one step looks at by default; a block with nothing to move costs no I/O, only its place lookups. */
const rebalanceStepLookMax = 256;

export interface RebalanceStepResult {
  /** 'busy': more to do now; 'idle': settled, waiting for a retry, or nothing to move. */
  state: 'busy' | 'idle';
  /** Blocks this step moved shards of (what the block rate throttles). */
  blocks: number;
  bytes: number;
  progress: RebalanceProgress;
}

export class Rebalance {
  readonly #meta: MetaStore;
  readonly #blocks: BlockRebalancing;
  readonly #nowMs: () => number;
  readonly #writeGraceMs: number;
  readonly #retryDelayMs: number;
  readonly #gcDelayMs: number;

  constructor(options: RebalanceOptions) {
    this.#meta = options.meta;
    this.#blocks = options.blocks;
    this.#nowMs = options.nowMs ?? Date.now;
    this.#writeGraceMs = options.writeGraceMs ?? 0;
    this.#retryDelayMs = options.retryDelayMs ?? 60_000;
    this.#gcDelayMs = options.gcDelayMs ?? 0;
  }

  /** The stored progress, or an idle one settled on the oldest epoch when none is stored. */
  async progress(): Promise<RebalanceProgress> {
    return publicOf((await this.#read()).record);
  }

  /**
   * One bounded unit: starts a walk when the newest epoch is not settled, else looks at up to `lookMax`
   * blocks, stopping once it moved shards of `blocksMax` of them or `bytesMax` bytes, and saves the cursor,
   * settling the epoch when the walk ends.
   */
  async step(limits: RebalanceStepLimits): Promise<RebalanceStepResult> {
    const { record, stored } = await this.#read();
    const epochs = this.#blocks.layoutEpochs();
    const newest = epochs[epochs.length - 1] ?? 0;
    const idle = { state: 'idle' as const, blocks: 0, bytes: 0 };
    // A process that has not loaded the epoch another one stored must not move (it would move towards
    // its older newest epoch) nor settle: it waits until it follows the layout.
    if (record.toEpoch > newest || record.settledEpoch > newest) return { ...idle, progress: publicOf(record) };
    // Follow what any process settled: reads here then stop looking at the older epochs too.
    this.#blocks.setSettledEpoch(record.settledEpoch);
    const nowMs = this.#nowMs();
    if (record.toEpoch < newest) {
      // A new epoch, maybe applied mid-pass: walk again from the start towards it; settled stays.
      return this.#startWalk(stored, { ...record, toEpoch: newest, epochSinceMs: nowMs, blocksMoved: 0, shardsMoved: 0, bytesMoved: 0 });
    }
    if (record.state === 'idle') {
      if (record.settledEpoch >= record.toEpoch || nowMs < (record.retryAtMs ?? 0)) return { ...idle, progress: publicOf(record) };
      return this.#startWalk(stored, record);
    }
    return this.#walkStep(record, stored, limits);
  }

  async #startWalk(stored: Buffer | null, from: StoredRebalance): Promise<RebalanceStepResult> {
    const nowMs = this.#nowMs();
    const record: StoredRebalance = { ...from, state: 'running', cursor: '', blocksChecked: 0, shardsFailed: 0, shardsBlocked: 0, blocksBlocked: 0, blocksTotal: await this.#countBlocks(), startedAtMs: nowMs, updatedAtMs: nowMs };
    delete record.finishedAtMs;
    delete record.retryAtMs;
    await this.#save(record, stored);
    return { state: 'busy', blocks: 0, bytes: 0, progress: publicOf(record) };
  }

  async #walkStep(record: StoredRebalance, stored: Buffer | null, limits: RebalanceStepLimits): Promise<RebalanceStepResult> {
    const range = keys.blockOwnerRange();
    const start = record.cursor ? Buffer.concat([Buffer.from(record.cursor, 'hex'), Buffer.from([0])]) : range.start;
    const lookMax = Math.max(limits.blocksMax, limits.lookMax ?? rebalanceStepLookMax);
    const page = await this.#meta.scan({ start, end: range.end, limit: lookMax });
    let looked = 0;
    let blocks = 0;
    let bytes = 0;
    // Moves run a window at a time; the cursor passes a window only once every move in it has ended.
    while (looked < page.length) {
      limits.signal?.throwIfAborted();
      const window = page.slice(looked, looked + Math.max(1, Math.min(rebalanceMovesInFlight, limits.blocksMax - blocks)));
      const refs = window.map((kv) => decodeRecord<BlockRef>(kv.value));
      // The walk rechecks a suspect node once itself rather than trust a recheck made before it began.
      const walk = `rebalance to epoch ${record.toEpoch} ${record.startedAtMs}`;
      const results = await Promise.allSettled(refs.map((ref) => this.#blocks.moveBlock(ref, { walk, ...(limits.signal ? { signal: limits.signal } : {}) })));
      for (const [i, result] of results.entries()) {
        if (result.status === 'fulfilled') {
          const moved = result.value;
          if (moved.shardsMoved > 0) {
            blocks++;
            record.blocksMoved++;
            await this.#requeueIfReleased(refs[i]!);
          }
          record.shardsMoved += moved.shardsMoved;
          record.bytesMoved += moved.bytesMoved;
          record.shardsFailed += moved.shardsFailed;
          // Not a failure: no retry can move them (the walk still settles, reads know where they are), but
          // status must not call the drain done while the node holds them.
          record.shardsBlocked = (record.shardsBlocked ?? 0) + moved.shardsBlocked;
          if (moved.shardsBlocked > 0) record.blocksBlocked = (record.blocksBlocked ?? 0) + 1;
          bytes += moved.bytesMoved;
        } else {
          // A block that cannot even be planned (a damaged layout record, a ref that does not add up): keep
          // the epoch unsettled and go on with the others rather than stall every later block behind it.
          const err: unknown = result.reason;
          if (limits.signal?.aborted || !(err instanceof RangeError || (isStoreError(err) && err.code !== 'ERR_ABORTED'))) throw err;
          record.shardsFailed++;
        }
        looked++;
        record.blocksChecked++;
        record.cursor = window[i]!.key.toString('hex');
      }
      if (bytes >= limits.bytesMax || blocks >= limits.blocksMax) break;
    }
    const nowMs = this.#nowMs();
    record.updatedAtMs = nowMs;
    const walked = looked === page.length && page.length < lookMax;
    if (walked) this.#endWalk(record, nowMs);
    if (await this.#save(record, stored)) this.#blocks.setSettledEpoch(record.settledEpoch);
    return { state: walked ? 'idle' : 'busy', blocks, bytes, progress: publicOf(record) };
  }

  /** The walk is over: settle its epoch, or wait and walk again (shards failed, or within the write grace). */
  #endWalk(record: StoredRebalance, nowMs: number): void {
    record.state = 'idle';
    record.finishedAtMs = nowMs;
    if (record.shardsFailed > 0) record.retryAtMs = nowMs + this.#retryDelayMs;
    else if (nowMs - record.epochSinceMs < this.#writeGraceMs) record.retryAtMs = record.epochSinceMs + this.#writeGraceMs;
    else record.settledEpoch = record.toEpoch;
  }

  /**
   * A block released (its object overwritten or deleted) while its shards moved may have been deleted by
   * GC before a copy landed, which would bring that copy back as an unreferenced file until an orphan
   * sweep (hours). Queued for GC again instead: its delete covers every place, and is idempotent.
   */
  async #requeueIfReleased(ref: BlockRef): Promise<void> {
    if (await this.#meta.get(keys.blockOwner(ref.id), { fill: false })) return; // a later release queues a delete that covers the new places
    await this.#meta.commit({ checks: [], writes: [{ key: keys.gc(this.#nowMs() + this.#gcDelayMs, ref.id), value: encodeRecord(ref) }] });
  }

  async #read(): Promise<{ record: StoredRebalance; stored: Buffer | null }> {
    const stored = await this.#meta.get(keys.setting(settingName), { fill: false });
    if (stored) return { record: { ...decodeRecord<StoredRebalance>(stored) }, stored };
    // Never rebalanced: every block is where its own epoch put it, so the oldest epoch is settled.
    const oldest = this.#blocks.layoutEpochs()[0] ?? 0;
    const nowMs = this.#nowMs();
    const record: StoredRebalance = {
      settledEpoch: oldest, toEpoch: oldest, state: 'idle', blocksChecked: 0, blocksTotal: 0, blocksMoved: 0, shardsMoved: 0, bytesMoved: 0,
      shardsFailed: 0, shardsBlocked: 0, blocksBlocked: 0, startedAtMs: 0, updatedAtMs: nowMs, cursor: '', epochSinceMs: 0,
    };
    return { record, stored: null };
  }

  /** Saves `record` if the setting still holds what this step read (a step of a lost lease changes nothing). */
  async #save(record: StoredRebalance, previous: Buffer | null): Promise<boolean> {
    const key = keys.setting(settingName);
    return this.#meta.commit({ checks: [{ key, value: previous }], writes: [{ key, value: encodeRecord(record) }] });
  }

  async #countBlocks(): Promise<number> {
    const range = keys.blockOwnerRange();
    let count = 0;
    let start = range.start;
    for (;;) {
      const page = await this.#meta.scan({ start, end: range.end, limit: 1000 });
      count += page.length;
      if (page.length < 1000) return count;
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
  }
}
