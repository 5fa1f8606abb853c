// Object Lock operations: a bucket's lock configuration (default retention), and one version's retention
// and legal hold. The rules themselves are pure and live in lock-rules.ts; every change here re-checks
// them against the record its commit checks, so no concurrent change slips between check and write.
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import { getBucket, updateBucket } from './buckets.js';
import { resolveVersionAndBucket } from './get-object.js';
import { updateVersion } from './key-state.js';
import type { BucketRecord, VersionRecord } from './records.js';
import { retentionChangeRefusal, type DefaultRetention, type LockOptions, type Retention } from './lock-rules.js';

/** AWS's message for a lock request on a bucket without Object Lock. */
const missingLockMessage = 'Bucket is missing Object Lock Configuration';

export function lockRefusal(message: string): ObjectError {
  return new ObjectError('AccessDenied', `Access Denied because object protected by object lock. ${message}`);
}

function requireLockEnabled(bucket: BucketRecord): void {
  if (!bucket.objectLockEnabled) throw new ObjectError('InvalidRequest', missingLockMessage);
}

/** Refuses a write asking for lock settings in a bucket without Object Lock (AWS: 400 InvalidRequest). */
export function checkLockRequest(bucket: BucketRecord, asked: boolean): void {
  if (asked) requireLockEnabled(bucket);
}

/** GetObjectLockConfiguration: whether lock is on and the default retention, if any. */
export async function getObjectLockConfiguration(ctx: ObjectContext, name: string): Promise<{ defaultRetention?: DefaultRetention }> {
  const bucket = await getBucket(ctx, name);
  if (!bucket.objectLockEnabled) throw new ObjectError('ObjectLockConfigurationNotFoundError', undefined, { extra: { BucketName: name } });
  return bucket.objectLockDefault ? { defaultRetention: bucket.objectLockDefault } : {};
}

/**
 * PutObjectLockConfiguration: turns Object Lock on (AWS allows it on an existing bucket once versioning
 * is Enabled; it cannot be turned off) and sets or clears the default retention. Versions already
 * written keep their own retention whatever the default becomes.
 */
export async function putObjectLockConfiguration(ctx: ObjectContext, name: string, defaultRetention: DefaultRetention | undefined): Promise<void> {
  await updateBucket(ctx, name, (r) => {
    if (!r.objectLockEnabled && r.versioning !== 'Enabled') {
      throw new ObjectError('InvalidBucketState', 'Versioning must be \'Enabled\' on the bucket to apply a Object Lock configuration');
    }
    const { objectLockDefault: _, ...rest } = r;
    return { ...rest, objectLockEnabled: true, ...(defaultRetention ? { objectLockDefault: defaultRetention } : {}) };
  });
}

/** The version a retention or legal hold request names, in a bucket that must have Object Lock. */
async function lockedVersion(ctx: ObjectContext, bucket: string, key: string, versionId: string | undefined): Promise<VersionRecord> {
  const found = await resolveVersionAndBucket(ctx, bucket, key, versionId);
  requireLockEnabled(found.bucket);
  return found.record;
}

export async function getObjectRetention(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<Retention> {
  const record = await lockedVersion(ctx, bucket, key, versionId);
  if (!record.retention) throw new ObjectError('NoSuchObjectLockConfiguration');
  return record.retention;
}

/** GetObjectLegalHold: a version never given a legal hold (ON or OFF) has none to answer, as in AWS. */
export async function getObjectLegalHold(ctx: ObjectContext, bucket: string, key: string, versionId?: string): Promise<boolean> {
  const record = await lockedVersion(ctx, bucket, key, versionId);
  if (record.legalHold === undefined) throw new ObjectError('NoSuchObjectLockConfiguration');
  return record.legalHold;
}

/**
 * PutObjectRetention: sets (or with undefined, removes) one version's retention. The change is checked
 * against the record being replaced, at `nowMs` of the commit attempt, by retentionChangeRefusal().
 */
export async function putObjectRetention(
  ctx: ObjectContext,
  params: { bucket: string; key: string; versionId?: string; retention: Retention | undefined } & LockOptions,
): Promise<VersionRecord> {
  const record = await lockedVersion(ctx, params.bucket, params.key, params.versionId);
  return changeVersion(ctx, params, record, (r) => {
    const refusal = retentionChangeRefusal(r.retention, params.retention, ctx.nowMs(), params);
    if (refusal !== undefined) throw lockRefusal(refusal);
    const { retention: _, ...rest } = r;
    return params.retention ? { ...rest, retention: params.retention } : rest;
  });
}

/** PutObjectLegalHold: anyone who may call it can turn a hold on or off (kept as OFF, not removed). */
export async function putObjectLegalHold(ctx: ObjectContext, params: { bucket: string; key: string; versionId?: string; on: boolean }): Promise<VersionRecord> {
  const record = await lockedVersion(ctx, params.bucket, params.key, params.versionId);
  return changeVersion(ctx, params, record, (r) => {
    return { ...r, legalHold: params.on };
  });
}

async function changeVersion(ctx: ObjectContext, params: { bucket: string; key: string }, record: VersionRecord, change: (r: VersionRecord) => VersionRecord): Promise<VersionRecord> {
  const updated = await updateVersion(ctx, params.bucket, params.key, record.versionKey, change);
  if (!updated) throw new ObjectError('NoSuchKey', undefined, { extra: { Key: params.key } });
  return updated;
}
