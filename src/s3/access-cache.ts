// What authorization reads of the store, cached per process: each bucket's record (policy parsed once,
// its public-ness computed once), the store-wide Block Public Access setting, and parsed identity policies.
// Entries live accessCacheTtlMs; a change made here drops its entry at once (invalidate*).
import type { ObjectContext } from '../objects/context.js';
import type { BucketRecord } from '../objects/records.js';
import { readBucketOrNull, readStorePublicAccessBlock } from '../objects/bucket-access.js';
import type { PublicAccessBlock } from '../iam/types.js';
import { parsePolicy, type Policy } from '../iam/policy.js';
import { isPublicPolicy } from '../iam/public.js';
import { accessCacheEntriesMax, accessCacheTtlMs } from '../constants.js';

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

  constructor(readonly ctx: ObjectContext) {}

  bucket(name: string): Promise<BucketAccess> {
    const now = this.ctx.nowMs();
    const hit = this.#buckets.get(name);
    if (hit && now - hit.atMs < accessCacheTtlMs) return hit.value;
    if (this.#buckets.size >= accessCacheEntriesMax) this.#buckets.clear();
    const value = loadBucket(this.ctx, name);
    this.#buckets.set(name, { atMs: now, value });
    // A failed read is not remembered: the next request reads again.
    value.catch(() => this.#buckets.delete(name));
    return value;
  }

  storePublicAccessBlock(): Promise<PublicAccessBlock> {
    const now = this.ctx.nowMs();
    if (this.#store && now - this.#store.atMs < accessCacheTtlMs) return this.#store.value;
    const value = readStorePublicAccessBlock(this.ctx);
    this.#store = { atMs: now, value };
    value.catch(() => {
      this.#store = undefined;
    });
    return value;
  }

  /** An identity policy, parsed once per text (it was validated when attached). */
  identityPolicy(text: string): Policy {
    let policy = this.#policies.get(text);
    if (!policy) {
      if (this.#policies.size >= accessCacheEntriesMax) this.#policies.clear();
      policy = parsePolicy(text, { kind: 'identity' });
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

async function loadBucket(ctx: ObjectContext, name: string): Promise<BucketAccess> {
  const record = await readBucketOrNull(ctx, name);
  if (!record?.policy) return { record, policyPublic: false, policyBroken: false };
  try {
    const policy = parsePolicy(record.policy, { kind: 'bucket', bucket: name });
    return { record, policy, policyPublic: isPublicPolicy(policy), policyBroken: false };
  } catch {
    return { record, policyPublic: false, policyBroken: true };
  }
}

const caches = new WeakMap<ObjectContext, AccessCache>();

/** The cache of one store (one ObjectContext): every listener over it shares it. */
export function accessCacheOf(ctx: ObjectContext): AccessCache {
  let cache = caches.get(ctx);
  if (!cache) {
    cache = new AccessCache(ctx);
    caches.set(ctx, cache);
  }
  return cache;
}

export type { AccessCache };
