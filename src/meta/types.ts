// The MetaStore contract (design.md §1): a small ordered, transactional key-value store. Keys and values
// are bytes, ordered by unsigned byte comparison. Every S3 semantic lives above this, once, in src/objects.
import { assert } from '../util/assert.js';

export interface KvPair {
  key: Buffer;
  value: Buffer;
}

export interface ScanRange {
  /** First key, inclusive. */
  start: Buffer;
  /** Last key, exclusive. */
  end: Buffer;
  limit: number;
}

/** A check that must hold at commit time: the key's value equals `value` byte for byte (null: absent). */
export interface Check {
  key: Buffer;
  value: Buffer | null;
}

/** A write applied at commit time: a put, or a delete when value is null. */
export interface Write {
  key: Buffer;
  value: Buffer | null;
}

/**
 * A blind increment applied at commit time: the key holds a signed 64-bit counter (counterValue()), absent
 * reading as 0. It checks nothing, so commits that only add to the same counter never conflict; per-bucket
 * usage is kept this way (objects/usage.ts). A key is either written or added to in one commit, not both.
 */
export interface Add {
  key: Buffer;
  /** A safe integer, negative to subtract. */
  delta: number;
}

export interface Txn {
  checks: Check[];
  writes: Write[];
  adds?: Add[];
}

/** The bytes of a counter that holds `n`: 8 bytes, big-endian two's complement, as PostgreSQL's int8send. */
export function encodeCounter(n: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(BigInt(n));
  return buf;
}

/** The number a counter key holds; a value of another length is not a counter. */
export function counterValue(buf: Buffer | null): number {
  if (buf === null) return 0;
  if (buf.length !== 8) throw new RangeError(`Cannot read a counter from ${buf.length} bytes: expected 8`);
  return Number(buf.readBigInt64BE());
}

/** The adds of `txn` merged per key (a key once, its deltas summed), in key order so commits lock alike. */
export function mergedAdds(adds: readonly Add[] | undefined): Add[] {
  if (!adds || adds.length === 0) return [];
  const byKey = new Map<string, Add>();
  for (const add of adds) {
    if (!Number.isSafeInteger(add.delta)) throw new RangeError(`Cannot add ${add.delta} to a counter: expected a safe integer`);
    const name = add.key.toString('latin1');
    const seen = byKey.get(name);
    byKey.set(name, { key: add.key, delta: (seen?.delta ?? 0) + add.delta });
  }
  return [...byKey.values()].filter((a) => a.delta !== 0).sort((a, b) => Buffer.compare(a.key, b.key));
}

declare const keyNameBrand: unique symbol;

/**
 * A key as a binary string: one char (0-255) per byte, as Buffer's 'latin1' decoding gives it, so two
 * keys share a name only when they share every byte. An in-process store keys its read cache by it, and
 * a caller that knows a key's bytes may build it without the Buffer (objects/keys.ts keyNames).
 */
export type KeyName = string & { readonly [keyNameBrand]: true };

export function keyNameOf(key: Buffer): KeyName {
  return key.toString('latin1') as KeyName;
}

/** The bytes `name` stands for. */
export function keyOfName(name: KeyName): Buffer {
  // A char past 0xff would lose its high bits in the latin1 encoding and read another key's row.
  assert(!/[^\x00-\xff]/.test(name), 'Key name holds a char past 0xff');
  return Buffer.from(name, 'latin1');
}

export interface GetOptions {
  /**
   * Whether a cache inside the store may keep the value for later reads; default true. Sweeps that read
   * each key once (the orphan sweep, heal) pass false, so they do not push hot values out.
   */
  fill?: boolean;
}

/** Several reads sent together: `readMany` answers each get and each scan as the single calls would. */
export interface ReadBatch {
  gets: Buffer[];
  scans: ScanRange[];
}

export interface ReadResult {
  /** One per get, in order: the value, or null when the key is absent. */
  values: (Buffer | null)[];
  /** One per scan, in order. */
  scans: KvPair[][];
}

export interface MetaStore {
  get(key: Buffer, options?: GetOptions): Promise<Buffer | null>;
  /**
   * get(), answered synchronously: present when reads are answered in this process (SQLite, with its read
   * cache). There is no round trip to save, and a few cached gets cost less than one readMany with a scan,
   * so a caller may prefer them; taken without await, they also spare a small GET a promise and a
   * microtask tick each. The key may come as its KeyName: a hit on the read cache then needs no Buffer.
   * Absent: every call is a round trip to a database.
   */
  getNow?(key: Buffer | KeyName, options?: GetOptions): Buffer | null;
  /** Keys in [start, end) in ascending order, at most `limit`. */
  scan(range: ScanRange): Promise<KvPair[]>;
  /**
   * The gets and scans of `batch` in one call: one round trip on a backend behind a network (a small GET
   * needs a bucket record and a key's newest version). Each read is consistent on its own, as the single
   * calls are; a backend may answer them all from one snapshot (PostgreSQL does) but callers must not
   * rely on it.
   */
  readMany(batch: ReadBatch): Promise<ReadResult>;
  /**
   * Applies every write atomically and durably if every check holds. Resolves true once durable,
   * false when a check failed (nothing written). Concurrent commits may be grouped into one fsync.
   */
  commit(txn: Txn): Promise<boolean>;
  close(): Promise<void>;
}
