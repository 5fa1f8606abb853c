// Bucket operations: create, delete, list, versioning state, tags and the lifecycle configuration. Bucket names are validated in src/s3.
import { accessCacheOf } from './access-cache.js';
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import { keys } from './keys.js';
import { usageKeys } from './usage.js';
import { decodeRecord, encodeRecord, type BucketEncryption, type BucketRecord, type CorsRule, type VersioningState } from './records.js';
import { readBucket } from './key-state.js';
import { StoreError } from '../util/errors.js';
import { bucketUploadsRemoval } from './multipart.js';
import { metaRetriesMax } from '../constants.js';
import type { LifecycleConfiguration } from './lifecycle-rules.js';
import type { Acl, ObjectOwnership } from '../iam/types.js';

export interface BucketSettings {
  ownership?: ObjectOwnership;
  acl?: Acl;
  /** x-amz-bucket-object-lock-enabled: the bucket is created versioned with Object Lock on. */
  objectLock?: boolean;
}

/**
 * Creates a bucket. With `objectLock` it is created versioned with Object Lock on, as AWS does: lock needs
 * versions, and neither can be turned off afterwards.
 */
export async function createBucket(ctx: ObjectContext, name: string, owner: string, settings: BucketSettings = {}): Promise<BucketRecord> {
  const existing = await ctx.meta.get(keys.bucket(name));
  if (existing) {
    const record = decodeRecord<BucketRecord>(existing);
    if (record.owner === owner && !record.deleting) throw new ObjectError('BucketAlreadyOwnedByYou', undefined, { extra: { BucketName: name } });
    throw new ObjectError('BucketAlreadyExists', undefined, { extra: { BucketName: name } });
  }
  const record: BucketRecord = {
    name, createdMs: ctx.nowMs(), owner, region: ctx.region,
    ...(settings.objectLock ? { versioning: 'Enabled', objectLockEnabled: true } : { versioning: 'Unversioned' }),
    // Written out even when it is the default, so the record says what the bucket was created with.
    ownership: settings.ownership ?? 'BucketOwnerEnforced',
    ...(settings.acl ? { acl: settings.acl } : {}),
  };
  const ok = await ctx.meta.commit({ checks: [{ key: keys.bucket(name), value: null }], writes: [{ key: keys.bucket(name), value: encodeRecord(record) }] });
  if (!ok) throw new ObjectError('BucketAlreadyOwnedByYou', undefined, { extra: { BucketName: name } });
  return record;
}

export async function getBucket(ctx: ObjectContext, name: string): Promise<BucketRecord> {
  return (await readBucket(ctx, name)).record;
}

export interface BucketListParams {
  /** Only names starting with this. */
  prefix?: string;
  /** Only names after this one (a continuation). */
  after?: string;
  /** Only buckets of this region. */
  region?: string;
  max: number;
}

const bucketScanPageMax = 1000;

/** The store's buckets (the one account's) in name order, one page of at most `max`. */
export async function listBuckets(ctx: ObjectContext, params: BucketListParams): Promise<{ buckets: BucketRecord[]; isTruncated: boolean }> {
  const range = keys.bucketRange();
  const prefix = params.prefix ?? '';
  // Bucket names are lowercase ASCII, so a name's key is its bytes after the space byte, 0x00-terminated.
  let start = Buffer.concat([range.start, Buffer.from(prefix, 'utf8')]);
  if (params.after !== undefined) {
    const afterStart = Buffer.concat([keys.bucket(params.after), Buffer.from([0])]);
    if (Buffer.compare(afterStart, start) > 0) start = afterStart;
  }
  const buckets: BucketRecord[] = [];
  for (;;) {
    const page = await ctx.meta.scan({ start, end: range.end, limit: bucketScanPageMax });
    for (const kv of page) {
      const record = decodeRecord<BucketRecord>(kv.value);
      // Names sharing the prefix sort together: the first one without it ends the listing.
      if (!record.name.startsWith(prefix)) return { buckets, isTruncated: false };
      if (record.deleting) continue;
      if (params.region !== undefined && record.region !== params.region) continue;
      if (buckets.length === params.max) return { buckets, isTruncated: true };
      buckets.push(record);
    }
    if (page.length < bucketScanPageMax) return { buckets, isTruncated: false };
    start = Buffer.concat([page[page.length - 1]!.key, Buffer.from([0])]);
  }
}

/** Rewrites the bucket record through `change` (which may throw to refuse), retried on conflict. */
export async function updateBucket(ctx: ObjectContext, name: string, change: (r: BucketRecord) => BucketRecord): Promise<BucketRecord> {
  for (let attempt = 0; attempt < 16; attempt++) {
    const { record, buf } = await readBucket(ctx, name);
    const next = change(record);
    if (await ctx.meta.commit({ checks: [{ key: keys.bucket(name), value: buf }], writes: [{ key: keys.bucket(name), value: encodeRecord(next) }] })) {
      // Policy, ACL, ownership and Block Public Access live in the record: this process applies a change at once.
      accessCacheOf(ctx.meta).invalidateBucket(name);
      return next;
    }
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot update bucket "${name}": too many concurrent changes`);
}

/** Replaces the bucket's tag set; an empty one removes it (GetBucketTagging then answers NoSuchTagSet). */
export async function setBucketTags(ctx: ObjectContext, name: string, tags: Record<string, string>): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    const { tags: _, ...rest } = r;
    return Object.keys(tags).length > 0 ? { ...rest, tags } : rest;
  });
}

/** Replaces the bucket's lifecycle configuration; undefined removes it (GetBucketLifecycleConfiguration then answers NoSuchLifecycleConfiguration). */
export async function setBucketLifecycle(ctx: ObjectContext, name: string, lifecycle: LifecycleConfiguration | undefined): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    const { lifecycle: _, ...rest } = r;
    return lifecycle ? { ...rest, lifecycle } : rest;
  });
}

/** Replaces the bucket's CORS rules; undefined removes them (GetBucketCors then answers NoSuchCORSConfiguration). */
export async function setBucketCors(ctx: ObjectContext, name: string, rules: CorsRule[] | undefined): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    const { cors: _, ...rest } = r;
    return rules ? { ...rest, cors: rules } : rest;
  });
}

/** Replaces the bucket ACL (PutBucketAcl). */
export async function setBucketAcl(ctx: ObjectContext, name: string, acl: Acl): Promise<void> {
  await updateBucket(ctx, name, (r) => ({ ...r, acl }));
}

/**
 * Sets Object Ownership, or removes the bucket's ownership controls (undefined). `check` runs on the record
 * read, inside the retry loop, to refuse a change the bucket's current state forbids.
 */
export async function setBucketOwnership(ctx: ObjectContext, name: string, ownership: ObjectOwnership | undefined, check?: (r: BucketRecord) => void): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    check?.(r);
    const { ownership: _, ownershipRemoved: __, ...rest } = r;
    return ownership ? { ...rest, ownership } : { ...rest, ownershipRemoved: true };
  });
}

export async function setBucketVersioning(ctx: ObjectContext, name: string, state: Exclude<VersioningState, 'Unversioned'>): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    if (r.objectLockEnabled && state !== 'Enabled') {
      throw new ObjectError('InvalidBucketState', 'An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
    }
    return { ...r, versioning: state };
  });
}

/**
 * Deletes a bucket without versions or delete markers; uploads in progress do not count, as in AWS for
 * general purpose buckets: they are aborted in the transaction that removes the bucket. It first marks the
 * bucket as deleting, so a PUT, a new upload or a part racing the emptiness check fails its commit check
 * instead of landing in a bucket about to vanish.
 */
export async function deleteBucket(ctx: ObjectContext, name: string): Promise<void> {
  const marked = await updateBucket(ctx, name, (r) => ({ ...r, deleting: true }));
  const markedBuf = encodeRecord(marked);
  const versions = await ctx.meta.scan({ ...keys.versionRange(name, ''), limit: 1 });
  if (versions.length > 0) {
    const { deleting: _, ...restored } = marked;
    await ctx.meta.commit({ checks: [{ key: keys.bucket(name), value: markedBuf }], writes: [{ key: keys.bucket(name), value: encodeRecord(restored) }] });
    throw new ObjectError('BucketNotEmpty', undefined, { extra: { BucketName: name } });
  }
  // An abort or completion finishing meanwhile changes an upload we read: read them again.
  for (let attempt = 0; attempt < metaRetriesMax; attempt++) {
    const uploads = await bucketUploadsRemoval(ctx, name);
    const ok = await ctx.meta.commit({
      checks: [{ key: keys.bucket(name), value: markedBuf }, ...uploads.checks],
      // Its usage counters read 0 now (no version is left); they go with it, so a bucket of the same name starts afresh.
      writes: [{ key: keys.bucket(name), value: null }, ...usageKeys(name).map((key) => ({ key, value: null })), ...uploads.writes],
    });
    if (ok) return;
  }
  throw new StoreError('ERR_META_CONFLICT', `Cannot delete bucket "${name}": its uploads kept changing`);
}

/** Replaces the bucket's default encryption (PutBucketEncryption); undefined removes it. */
export async function setBucketEncryption(ctx: ObjectContext, name: string, encryption: BucketEncryption | undefined): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    const { encryption: _, ...rest } = r;
    return encryption ? { ...rest, encryption } : rest;
  });
}
