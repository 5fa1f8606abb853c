// Heal and scrub over every live block (the block-owner space of the metadata), and the damage queue.
// Everything a step needs lives in the MetaStore: the passes' cursors and the damage reads and writes
// report (space `d`), so whichever process runs the maintenance worker resumes where another stopped.
// Queued damage is healed first, ahead of any pass.
import type { BlockMaintenance, BlockRef, ShardDamage } from '../blocks/types.js';
import type { ObjectContext } from './context.js';
import { isStoreError } from '../util/errors.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord } from './records.js';

/** Damage reports held in memory until their batch is written; beyond this they are dropped (a heal pass finds them). */
const damagePendingMax = 10_000;
/** The queue is counted up to this for status; beyond, status says this many. */
const damageCountMax = 100_000;
/** Reports arriving within this long go to the MetaStore in one commit. */
const damageFlushDelayMs = 50;
/** Blocks one maintenance step heals or scrubs at most. */
export const maintenanceStepBlocks = 16;

export interface PassProgress {
  kind: 'heal' | 'scrub';
  running: boolean;
  startedMs?: number;
  finishedMs?: number;
  blocksChecked: number;
  /** Live blocks when the pass started (an estimate: writes go on meanwhile). */
  blocksTotal: number;
  shardsRebuilt: number;
  shardsSkipped: number;
  damagedFound: number;
}

interface StoredPass {
  cursor: string; // hex of the last block-owner key done
  progress: PassProgress;
}

export interface MaintenanceStats {
  heal: PassProgress;
  scrub: PassProgress;
  /** Damaged blocks not repaired yet: waiting in the queue or being healed now. */
  queuedDamage: number;
  /** Blocks this process repaired from the damage queue since it started. */
  healedFromQueue: number;
}

/** What a step worked on: queued damage or the heal pass ('heal'), the scrub pass, or nothing. */
export type MaintenanceStep = 'heal' | 'scrub' | 'idle';

function emptyProgress(kind: 'heal' | 'scrub'): PassProgress {
  return { kind, running: false, blocksChecked: 0, blocksTotal: 0, shardsRebuilt: 0, shardsSkipped: 0, damagedFound: 0 };
}

export class Maintenance {
  readonly #ctx: ObjectContext;
  readonly #blocks: BlockMaintenance;
  /** Damage reported in this process, not yet in the MetaStore. */
  readonly #pending = new Map<string, BlockRef>();
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();
  /** Reports in a commit not yet answered: still counted as queued, so status never reads zero meanwhile. */
  #unflushed = 0;
  #healedFromQueue = 0;
  readonly #unsubscribe: () => void;

  constructor(ctx: ObjectContext, blocks: BlockMaintenance) {
    this.#ctx = ctx;
    this.#blocks = blocks;
    // Called on a read's or write's path: no await and no commit here, just a batch for a timer to write.
    this.#unsubscribe = blocks.onDamage((damage: ShardDamage) => {
      if (this.#pending.size >= damagePendingMax) return;
      this.#pending.set(damage.ref.id, damage.ref);
      this.#flushTimer ??= setTimeout(() => this.#flush(), damageFlushDelayMs);
    });
  }

  async stats(): Promise<MaintenanceStats> {
    const [heal, scrub, queued] = await Promise.all([this.#readPass('heal'), this.#readPass('scrub'), this.#countDamage()]);
    return { heal: heal.pass.progress, scrub: scrub.pass.progress, queuedDamage: queued + this.#pending.size + this.#unflushed, healedFromQueue: this.#healedFromQueue };
  }

  /** Starts a full heal pass (reviving wiped drives first), unless one is running. */
  async startHeal(): Promise<PassProgress> {
    const { pass } = await this.#readPass('heal');
    if (pass.progress.running) return pass.progress;
    await this.#blocks.reviveDrives();
    return this.#startPass('heal');
  }

  async startScrub(): Promise<PassProgress> {
    const { pass } = await this.#readPass('scrub');
    if (pass.progress.running) return pass.progress;
    return this.#startPass('scrub');
  }

  /** One bounded unit of work: queued damage first, then the heal pass, then the scrub pass. */
  async step(signal?: AbortSignal): Promise<MaintenanceStep> {
    await this.#flushing;
    if (await this.#healQueued(signal)) return 'heal';
    for (const kind of ['heal', 'scrub'] as const) {
      const stored = await this.#readPass(kind);
      if (stored.pass.progress.running) {
        await this.#passStep(kind, stored, signal);
        return kind;
      }
    }
    return 'idle';
  }

  /** Stops listening for damage and writes what is pending. */
  async close(): Promise<void> {
    this.#unsubscribe();
    this.#flush();
    await this.#flushing;
  }

  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.size === 0) return;
    const writes = [...this.#pending.values()].map((ref) => ({ key: keys.damage(ref.id), value: encodeRecord(ref) }));
    this.#pending.clear();
    this.#unflushed += writes.length;
    // A failed write loses only the report: the damage stays on the drives, where heal and scrub passes find it.
    this.#flushing = this.#flushing.then(() => this.#ctx.meta.commit({ checks: [], writes })).then(() => undefined, () => undefined).finally(() => {
      this.#unflushed -= writes.length;
    });
  }

  /** Heals up to a step's worth of queued blocks; false when the queue was empty. */
  async #healQueued(signal?: AbortSignal): Promise<boolean> {
    const queued = await this.#ctx.meta.scan({ ...keys.damageRange(), limit: maintenanceStepBlocks });
    if (queued.length === 0) return false;
    for (const kv of queued) {
      const ref = decodeRecord<BlockRef>(kv.value);
      try {
        // A block deleted meanwhile needs no healing.
        if (await this.#ctx.meta.get(keys.blockOwner(ref.id), { fill: false })) {
          await this.#blocks.heal(ref, signal ? { signal } : {});
          this.#healedFromQueue++;
        }
      } catch (err) {
        if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err; // beyond repair now: the next heal pass retries it
      }
      // Taken off the queue only once healed, so status counts it as queued until then; a report of the
      // block that arrived meanwhile (another value) stays queued.
      await this.#ctx.meta.commit({ checks: [{ key: kv.key, value: kv.value }], writes: [{ key: kv.key, value: null }] });
    }
    return true;
  }

  async #countDamage(): Promise<number> {
    return this.#countRange(keys.damageRange(), damageCountMax);
  }

  async #countRange(range: { start: Buffer; end: Buffer }, max: number): Promise<number> {
    let count = 0;
    let start = range.start;
    for (;;) {
      const page = await this.#ctx.meta.scan({ start, end: range.end, limit: 1000 });
      count += page.length;
      if (page.length < 1000 || count >= max) return Math.min(count, max);
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
  }

  /** The stored pass and the bytes it was read from, which a save checks are still there. */
  async #readPass(kind: 'heal' | 'scrub'): Promise<{ pass: StoredPass; stored: Buffer | null }> {
    const stored = await this.#ctx.meta.get(keys.setting(`pass/${kind}`));
    return { pass: stored ? decodeRecord<StoredPass>(stored) : { cursor: '', progress: emptyProgress(kind) }, stored };
  }

  async #startPass(kind: 'heal' | 'scrub'): Promise<PassProgress> {
    const total = await this.#countRange(keys.blockOwnerRange(), Number.MAX_SAFE_INTEGER);
    const pass: StoredPass = { cursor: '', progress: { ...emptyProgress(kind), running: true, startedMs: this.#ctx.nowMs(), blocksTotal: total } };
    await this.#save(kind, pass, null, false);
    return { ...pass.progress };
  }

  async #passStep(kind: 'heal' | 'scrub', stored: { pass: StoredPass; stored: Buffer | null }, signal?: AbortSignal): Promise<void> {
    const pass = stored.pass;
    const range = keys.blockOwnerRange();
    const start = pass.cursor ? Buffer.concat([Buffer.from(pass.cursor, 'hex'), Buffer.from([0])]) : range.start;
    const page = await this.#ctx.meta.scan({ start, end: range.end, limit: maintenanceStepBlocks });
    for (const kv of page) {
      const ref = decodeRecord<BlockRef>(kv.value);
      if (kind === 'heal') {
        try {
          // The pass is one walk: it rechecks a suspect node once itself rather than trust a recheck made before it began.
          const result = await this.#blocks.heal(ref, { walk: `heal pass ${pass.progress.startedMs ?? 0}`, ...(signal ? { signal } : {}) });
          pass.progress.shardsRebuilt += result.rebuilt.length;
          pass.progress.shardsSkipped += result.skipped.length;
          if (result.rebuilt.length + result.skipped.length > 0) pass.progress.damagedFound++;
        } catch (err) {
          // Beyond the redundancy budget (too few shards left): count it and go on with the others.
          if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err;
          pass.progress.damagedFound++;
          pass.progress.shardsSkipped++;
        }
      } else {
        const checks = await this.#blocks.scrub(ref, signal ? { signal } : {});
        if (checks.some((c) => c.state !== 'ok')) pass.progress.damagedFound++; // scrub's damage report queues the heal
      }
      pass.progress.blocksChecked++;
      pass.cursor = kv.key.toString('hex');
    }
    if (page.length < maintenanceStepBlocks) {
      pass.progress.running = false;
      pass.progress.finishedMs = this.#ctx.nowMs();
    }
    // Checked against what the step read: a pass restarted meanwhile (admin, another process) is kept.
    await this.#save(kind, pass, stored.stored, true);
  }

  async #save(kind: 'heal' | 'scrub', pass: StoredPass, previous: Buffer | null, checked: boolean): Promise<void> {
    const key = keys.setting(`pass/${kind}`);
    await this.#ctx.meta.commit({ checks: checked ? [{ key, value: previous }] : [], writes: [{ key, value: encodeRecord(pass) }] });
  }
}
