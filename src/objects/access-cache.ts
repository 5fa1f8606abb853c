// What authorization reads of the store, cached per process: each bucket's record (policy parsed once,
// its public-ness computed once), the store-wide Block Public Access setting, and parsed identity policies.
// Entries live accessCacheTtlMs (wall clock); a change made through this process drops its entry at once
// (invalidate*). Keyed by the MetaStore, so the S3 endpoint and the admin API of one process share it.
import type { MetaStore } from '../meta/types.js';
import type { BucketRecord } from './records.js';
import { readBucketOrNull, readStorePublicAccessBlock } from './bucket-access.js';
import type { PublicAccessBlock } from '../iam/types.js';
import { parsePolicy, type Policy } from '../iam/policy.js';
import { isPublicPolicy } from '../iam/public.js';
import { DecisionCache } from '../iam/decision-cache.js';
import { accessCacheEntriesMax, accessCacheTtlMs, decisionCacheEntriesMax } from '../constants.js';

export interface BucketAccess {
  record: BucketRecord | null;
  policy?: Policy;
  policyPublic: boolean;
  /** A stored policy that no longer parses (written by an older version): it then denies all but the root. */
  policyBroken: boolean;
}

interface Timed<T> {
  atMs: number;
  value: T;
}

class AccessCache {
  readonly #buckets = new Map<string, Timed<Promise<BucketAccess>>>();
  readonly #policies = new Map<string, Policy>();
  #store: Timed<Promise<PublicAccessBlock>> | undefined;
  /**
   * The evaluator's decisions, scoped by the objects above (a bucket's BucketAccess, the store's setting's
   * promise) and the identity: a reload replaces them, which retires every decision made from the old ones.
   */
  readonly decisions = new DecisionCache(decisionCacheEntriesMax);

  constructor(readonly meta: MetaStore) {}

  bucket(name: string): Promise<BucketAccess> {
    const now = Date.now();
    const hit = this.#buckets.get(name);
    if (hit && now - hit.atMs < accessCacheTtlMs) return hit.value;
    if (this.#buckets.size >= accessCacheEntriesMax) this.#buckets.clear();
    const value = loadBucket(this.meta, name);
    this.#buckets.set(name, { atMs: now, value });
    // A failed read is not remembered, nor a bucket that does not exist (yet): the next request reads again.
    value.then((access) => {
      if (!access.record && this.#buckets.get(name)?.value === value) this.#buckets.delete(name);
    }, () => this.#buckets.delete(name));
    return value;
  }

  storePublicAccessBlock(): Promise<PublicAccessBlock> {
    const now = Date.now();
    if (this.#store && now - this.#store.atMs < accessCacheTtlMs) return this.#store.value;
    const value = readStorePublicAccessBlock(this);
    this.#store = { atMs: now, value };
    value.catch(() => {
      this.#store = undefined;
    });
    return value;
  }

  /**
   * An identity policy, parsed once per text (it was validated when attached); undefined when it does not
   * parse (attached by an older version): its user is then refused everything, as a Deny it holds could
   * not be honoured.
   */
  identityPolicy(text: string): Policy | undefined {
    let policy = this.#policies.get(text);
    if (!policy) {
      try {
        policy = parsePolicy(text, { kind: 'identity' });
      } catch {
        return undefined;
      }
      if (this.#policies.size >= accessCacheEntriesMax) this.#policies.clear();
      this.#policies.set(text, policy);
    }
    return policy;
  }

  invalidateBucket(name: string): void {
    this.#buckets.delete(name);
  }

  invalidateStore(): void {
    this.#store = undefined;
  }
}

async function loadBucket(meta: MetaStore, name: string): Promise<BucketAccess> {
  const record = await readBucketOrNull({ meta }, name);
  if (!record?.policy) return { record, policyPublic: false, policyBroken: false };
  try {
    const policy = parsePolicy(record.policy, { kind: 'bucket', bucket: name });
    return { record, policy, policyPublic: isPublicPolicy(policy), policyBroken: false };
  } catch {
    return { record, policyPublic: false, policyBroken: true };
  }
}

const caches = new WeakMap<MetaStore, AccessCache>();

/** The cache of one store: every listener of this process over it shares it. */
export function accessCacheOf(meta: MetaStore): AccessCache {
  let cache = caches.get(meta);
  if (!cache) {
    cache = new AccessCache(meta);
    caches.set(meta, cache);
  }
  return cache;
}

export type { AccessCache };
