// Heal and scrub workers over every live block (the block-owner space of the metadata). Each step does a
// bounded unit of work; a pass keeps its cursor in the metadata, so it resumes where it stopped after a
// crash. Damage reported by reads, writes and scrubs is healed first, ahead of any pass.
import type { BlockMaintenance, BlockRef, ShardDamage } from '../blocks/types.js';
import type { ObjectContext } from './context.js';
import { isStoreError } from '../util/errors.js';
import { keys } from './keys.js';
import { decodeRecord, encodeRecord } from './records.js';

const damageQueueMax = 10_000;
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
  healedFromQueue: number;
}

function emptyProgress(kind: 'heal' | 'scrub'): PassProgress {
  return { kind, running: false, blocksChecked: 0, blocksTotal: 0, shardsRebuilt: 0, shardsSkipped: 0, damagedFound: 0 };
}

export class Maintenance {
  readonly #ctx: ObjectContext;
  readonly #blocks: BlockMaintenance;
  readonly #queue = new Map<string, BlockRef>();
  #heal: StoredPass = { cursor: '', progress: emptyProgress('heal') };
  #scrub: StoredPass = { cursor: '', progress: emptyProgress('scrub') };
  #healedFromQueue = 0;
  /** Blocks taken off the queue whose heal has not settled; still counted as queued damage. */
  #healingFromQueue = 0;
  readonly #unsubscribe: () => void;

  constructor(ctx: ObjectContext, blocks: BlockMaintenance) {
    this.#ctx = ctx;
    this.#blocks = blocks;
    this.#unsubscribe = blocks.onDamage((damage: ShardDamage) => {
      if (this.#queue.size < damageQueueMax) this.#queue.set(damage.ref.id, damage.ref);
    });
  }

  /** Loads passes that were running when the process stopped, so they resume. */
  async load(): Promise<void> {
    for (const kind of ['heal', 'scrub'] as const) {
      const buf = await this.#ctx.meta.get(keys.setting(`pass/${kind}`));
      if (buf) this.#setPass(kind, decodeRecord<StoredPass>(buf));
    }
  }

  stats(): MaintenanceStats {
    return { heal: { ...this.#heal.progress }, scrub: { ...this.#scrub.progress }, queuedDamage: this.#queue.size + this.#healingFromQueue, healedFromQueue: this.#healedFromQueue };
  }

  /** Starts a full heal pass (reviving wiped drives first), unless one is running. */
  async startHeal(): Promise<PassProgress> {
    if (!this.#heal.progress.running) {
      await this.#blocks.reviveDrives();
      await this.#startPass('heal');
    }
    return { ...this.#heal.progress };
  }

  async startScrub(): Promise<PassProgress> {
    if (!this.#scrub.progress.running) await this.#startPass('scrub');
    return { ...this.#scrub.progress };
  }

  /** One bounded unit of work: queued damage first, then the heal pass, then the scrub pass. */
  async step(signal?: AbortSignal): Promise<'busy' | 'idle'> {
    if (this.#queue.size > 0) {
      const batch = [...this.#queue.values()].slice(0, maintenanceStepBlocks);
      for (const ref of batch) {
        this.#queue.delete(ref.id);
        // Until its heal settles, the block still counts as queued: status must not read "nothing queued,
        // nothing healed" while a repair is under way (the scrub test saw exactly that).
        this.#healingFromQueue++;
        try {
          // A block deleted meanwhile needs no healing.
          if (!(await this.#ctx.meta.get(keys.blockOwner(ref.id), { fill: false }))) continue;
          await this.#blocks.heal(ref, signal ? { signal } : {});
          this.#healedFromQueue++;
        } catch (err) {
          if (!isStoreError(err) || err.code === 'ERR_ABORTED') throw err; // the next heal pass retries it
        } finally {
          this.#healingFromQueue--;
        }
      }
      return 'busy';
    }
    if (this.#heal.progress.running) return this.#passStep('heal', signal);
    if (this.#scrub.progress.running) return this.#passStep('scrub', signal);
    return 'idle';
  }

  close(): void {
    this.#unsubscribe();
  }

  async #startPass(kind: 'heal' | 'scrub'): Promise<void> {
    const total = await this.#countBlocks();
    const pass: StoredPass = { cursor: '', progress: { ...emptyProgress(kind), running: true, startedMs: this.#ctx.nowMs(), blocksTotal: total } };
    this.#setPass(kind, pass);
    await this.#save(kind);
  }

  async #countBlocks(): Promise<number> {
    let count = 0;
    let { start } = keys.blockOwnerRange();
    const { end } = keys.blockOwnerRange();
    for (;;) {
      const page = await this.#ctx.meta.scan({ start, end, limit: 1000 });
      count += page.length;
      if (page.length < 1000) return count;
      start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
    }
  }

  async #passStep(kind: 'heal' | 'scrub', signal?: AbortSignal): Promise<'busy' | 'idle'> {
    const pass = kind === 'heal' ? this.#heal : this.#scrub;
    const range = keys.blockOwnerRange();
    const start = pass.cursor ? Buffer.concat([Buffer.from(pass.cursor, 'hex'), Buffer.from([0])]) : range.start;
    const page = await this.#ctx.meta.scan({ start, end: range.end, limit: maintenanceStepBlocks });
    for (const kv of page) {
      const ref = decodeRecord<BlockRef>(kv.value);
      if (kind === 'heal') {
        try {
          const result = await this.#blocks.heal(ref, signal ? { signal } : {});
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
    await this.#save(kind);
    return pass.progress.running ? 'busy' : 'idle';
  }

  #setPass(kind: 'heal' | 'scrub', pass: StoredPass): void {
    if (kind === 'heal') this.#heal = pass;
    else this.#scrub = pass;
  }

  async #save(kind: 'heal' | 'scrub'): Promise<void> {
    const pass = kind === 'heal' ? this.#heal : this.#scrub;
    await this.#ctx.meta.commit({ checks: [], writes: [{ key: keys.setting(`pass/${kind}`), value: encodeRecord(pass) }] });
  }
}
