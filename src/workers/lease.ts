// A lease in the MetaStore: which process runs a background worker, and until when. Taken and renewed
// with the MetaStore's conditional commit, so at most one holder at a time; it expires when its holder
// stops renewing (the process died), and then any other process takes it over.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { MetaStore } from '../meta/types.js';
import { keys } from '../objects/keys.js';
import { decodeRecord, encodeRecord } from '../objects/records.js';

export interface LeaseRecord {
  holder: string;
  /** Wall-clock time the lease ends unless renewed; 0: released. */
  expiresMs: number;
}

export interface LeaseOptions {
  meta: MetaStore;
  /** The worker's name: one lease per name in the whole cluster. */
  name: string;
  /** This process's id; defaults to host, pid and a random part. */
  holder?: string;
  /** How long a take or renewal holds. */
  ttlMs: number;
  nowMs?: () => number;
}

/** A holder id unique to this process (and this start of it). */
export function processHolderId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

export class Lease {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly #meta: MetaStore;
  readonly #key: Buffer;
  readonly #nowMs: () => number;
  /** Until when this process may act as holder; counted from before the commit that took the lease. */
  #heldUntilMs = 0;

  constructor(options: LeaseOptions) {
    if (!(options.ttlMs > 0)) throw new RangeError(`Cannot make lease "${options.name}" with ttl ${options.ttlMs} ms: expected a positive number`);
    this.name = options.name;
    this.holder = options.holder ?? processHolderId();
    this.ttlMs = options.ttlMs;
    this.#meta = options.meta;
    this.#key = keys.lease(options.name);
    this.#nowMs = options.nowMs ?? Date.now;
  }

  /** Whether this process holds the lease now, by its own clock. */
  held(): boolean {
    return this.#nowMs() < this.#heldUntilMs;
  }

  /**
   * Takes the lease, or renews it when this process holds it: true when this process holds it for another
   * ttl. False when another holder's lease has not expired, or another process took or renewed it between
   * our read and our commit (the commit's check then fails and nothing is written).
   */
  async acquire(): Promise<boolean> {
    const startMs = this.#nowMs();
    const current = await this.#meta.get(this.#key, { fill: false });
    if (current) {
      const record = decodeRecord<LeaseRecord>(current);
      if (record.holder !== this.holder && record.expiresMs > startMs) {
        this.#heldUntilMs = 0;
        return false;
      }
    }
    const next: LeaseRecord = { holder: this.holder, expiresMs: startMs + this.ttlMs };
    const ok = await this.#meta.commit({ checks: [{ key: this.#key, value: current }], writes: [{ key: this.#key, value: encodeRecord(next) }] });
    this.#heldUntilMs = ok ? startMs + this.ttlMs : 0;
    return ok;
  }

  /** Gives the lease up at once (on shutdown), so another process need not wait for it to expire. */
  async release(): Promise<void> {
    if (this.#heldUntilMs === 0) return;
    this.#heldUntilMs = 0;
    const current = await this.#meta.get(this.#key, { fill: false });
    if (!current || decodeRecord<LeaseRecord>(current).holder !== this.holder) return;
    const released: LeaseRecord = { holder: this.holder, expiresMs: 0 };
    await this.#meta.commit({ checks: [{ key: this.#key, value: current }], writes: [{ key: this.#key, value: encodeRecord(released) }] });
  }

  /** The stored record: who holds the lease and until when (for status). */
  async read(): Promise<LeaseRecord | undefined> {
    const current = await this.#meta.get(this.#key, { fill: false });
    return current ? decodeRecord<LeaseRecord>(current) : undefined;
  }
}

/**
 * Ends every lease recorded in `meta` at once. Only for a MetaStore that this process alone can open
 * (SQLite, under its lock): whoever holds a lease there is a process that has died, and waiting out its
 * leases would hold back GC, heal and the orphan sweep after every restart.
 */
export async function releaseDeadLeases(meta: MetaStore): Promise<number> {
  const range = keys.leaseRange();
  const leases = await meta.scan({ ...range, limit: 1000 });
  const writes = leases.map((kv) => ({ key: kv.key, value: encodeRecord({ ...decodeRecord<LeaseRecord>(kv.value), expiresMs: 0 }) }));
  if (writes.length > 0) await meta.commit({ checks: [], writes });
  return writes.length;
}

/**
 * Ends the leases held by holders whose id starts with `holderPrefix` (host:pid: of a worker process that
 * is known dead: its primary saw it exit). Each end is conditional on the record read, so a lease another
 * process took meanwhile is left alone.
 */
export async function releaseLeasesOf(meta: MetaStore, holderPrefix: string): Promise<number> {
  const leases = await meta.scan({ ...keys.leaseRange(), limit: 1000 });
  let released = 0;
  for (const kv of leases) {
    const record = decodeRecord<LeaseRecord>(kv.value);
    if (!record.holder.startsWith(holderPrefix) || record.expiresMs === 0) continue;
    if (await meta.commit({ checks: [{ key: kv.key, value: kv.value }], writes: [{ key: kv.key, value: encodeRecord({ ...record, expiresMs: 0 }) }] })) released++;
  }
  return released;
}
