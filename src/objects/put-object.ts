// PutObject semantics: store the body, then commit the new version under the write conditions
// (If-Match / If-None-Match) in one metadata transaction, the order design.md §3 sets.
import type { ObjectContext } from './context.js';
import { ObjectError } from './errors.js';
import { discard, ingest, objectDataOf, type BodyMd5, type StoredData } from './data.js';
import { installVersion, readBucket, readLatest } from './key-state.js';
import type { BucketRecord, ObjectData, StoredChecksum, VersionRecord } from './records.js';
import type { Redundancy } from '../blocks/types.js';
import { asksForLock, type RequestedLock } from './lock-rules.js';
import { checkLockRequest } from './object-lock.js';
import type { Acl } from '../iam/types.js';
import { defaultEncryptionOf, newSealing, opaqueEtagOf, sealOption, type EncryptionRequest } from './sse.js';
import type { ObjectEncryption } from './records.js';

export interface WriteConditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface PutParams extends WriteConditions {
  bucket: string;
  key: string;
  owner: string;
  body: AsyncIterable<Buffer>;
  /** Undefined for a body streamed without a declared length. */
  size: number | undefined;
  /** Content-Type and the other stored system headers, and x-amz-meta-*; lowercase names. */
  headers: Record<string, string>;
  storageClass: string;
  tags?: Record<string, string>;
  /** Given the bucket record the commit checks (the S3 layer answers x-amz-expiration from its rules). */
  bucketSeen?: (bucket: BucketRecord) => void;
  /** x-amz-object-lock-*; the bucket's default retention applies when no retention is asked for. */
  lock?: RequestedLock;
  /**
   * Whether the request declared Content-MD5 or a flexible checksum; false refuses the PUT in a bucket
   * with a default retention, as AWS does. Undefined: not asked (paths that verify their body otherwise).
   */
  integrityDeclared?: boolean;
  /** The ACL the request set (x-amz-acl, x-amz-grant-*); absent means private. */
  acl?: Acl;
  contentMd5?: Buffer;
  /** Read once the body has ended, because a trailer checksum arrives after the data. */
  checksum?: () => StoredChecksum | undefined;
  /** The body's MD5 if whoever decoded it computes it (IngestOptions.bodyMd5). */
  bodyMd5?: BodyMd5;
  /** The encryption the request asks for; absent: the bucket's or the store's default, if any. */
  encryption?: EncryptionRequest;
  /** Given the encryption the new object is stored under (the S3 layer answers with its headers). */
  encryptionSeen?: (encryption: ObjectEncryption | undefined) => void;
  signal?: AbortSignal;
}

function unquote(etag: string): string {
  return etag.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export function etagMatches(condition: string, etag: string): boolean {
  return condition.split(',').some((c) => c.trim() === '*' || unquote(c) === unquote(etag));
}

/**
 * The check AWS makes for conditional writes, against the key's current version (a delete marker counts
 * as no object). "*" in If-None-Match matches any object, an ETag list only an object it names.
 */
export function writePrecondition(conditions: WriteConditions): ((current: VersionRecord | null) => void) | undefined {
  const { ifMatch, ifNoneMatch } = conditions;
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  return (current) => {
    if (ifNoneMatch !== undefined && current && etagMatches(ifNoneMatch, current.etag)) {
      throw new ObjectError('PreconditionFailed', undefined, { extra: { Condition: 'If-None-Match' } });
    }
    if (ifMatch !== undefined) {
      if (!current) throw new ObjectError('NoSuchKey');
      if (!etagMatches(ifMatch, current.etag)) throw new ObjectError('PreconditionFailed', undefined, { extra: { Condition: 'If-Match' } });
    }
  };
}

/** Fails fast, before any data moves, when a write condition already does not hold. */
export async function checkWriteConditions(ctx: ObjectContext, bucket: string, key: string, conditions: WriteConditions): Promise<void> {
  const check = writePrecondition(conditions);
  if (!check) return;
  // Head and version in one read: read apart, a write between them that replaces the null version left
  // the head naming a version already deleted, and an If-Match PUT racing it answered 404.
  const current = await readLatest(ctx, bucket, key);
  if (current !== undefined) check(current);
}

export function redundancyOf(ctx: ObjectContext, bucket: BucketRecord, storageClass: string): Redundancy | undefined {
  return bucket.redundancy ?? ctx.redundancyFor?.(storageClass);
}

export function newObjectRecord(
  params: { key: string; owner: string; headers: Record<string, string>; storageClass: string; tags?: Record<string, string> | undefined; lock?: RequestedLock | undefined; acl?: Acl | undefined },
  fields: { versionKey: string; isNull: boolean; nowMs: number; size: number; etag: string; data: ObjectData; checksum?: StoredChecksum | undefined; encryption?: ObjectEncryption | undefined },
): VersionRecord {
  return {
    key: params.key,
    versionKey: fields.versionKey,
    isNull: fields.isNull,
    deleteMarker: false,
    lastModifiedMs: fields.nowMs,
    owner: params.owner,
    size: fields.size,
    etag: fields.etag,
    headers: params.headers,
    storageClass: params.storageClass,
    ...(fields.checksum ? { checksum: fields.checksum } : {}),
    ...(params.tags && Object.keys(params.tags).length > 0 ? { tags: params.tags } : {}),
    ...(params.lock?.retention ? { retention: params.lock.retention } : {}),
    ...(params.lock?.legalHold !== undefined ? { legalHold: params.lock.legalHold } : {}),
    ...(params.acl ? { acl: params.acl } : {}),
    ...(fields.encryption ? { encryption: fields.encryption } : {}),
    data: fields.data,
  };
}

export async function putObject(ctx: ObjectContext, params: PutParams): Promise<VersionRecord> {
  const bucket = await readBucket(ctx, params.bucket);
  checkLockRequest(bucket.record, asksForLock(params.lock));
  if (params.integrityDeclared === false && bucket.record.objectLockEnabled && bucket.record.objectLockDefault) {
    throw new ObjectError('InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
  }
  await checkWriteConditions(ctx, params.bucket, params.key, params);
  const request = params.encryption ?? defaultEncryptionOf(ctx, bucket.record);
  const sealing = request ? await newSealing(ctx, params.bucket, params.key, request) : undefined;
  params.encryptionSeen?.(sealing?.encryption);
  const stored: StoredData = await ingest(ctx, params.body, {
    size: params.size,
    ...sealOption(sealing, 0),
    ...(params.bodyMd5 ? { bodyMd5: params.bodyMd5 } : {}),
    ...(params.signal ? { signal: params.signal } : {}),
    ...(redundancyOf(ctx, bucket.record, params.storageClass) ? { redundancy: redundancyOf(ctx, bucket.record, params.storageClass)! } : {}),
  });
  try {
    if (params.contentMd5 && !params.contentMd5.equals(stored.md5)) throw new ObjectError('BadDigest');
    const checksum = params.checksum?.();
    const etag = `"${opaqueEtagOf(sealing?.encryption, sealing?.dataKey, stored.md5).toString('hex')}"`;
    const precondition = writePrecondition(params);
    return await installVersion(
      ctx,
      params.bucket,
      params.key,
      (versionKey, isNull, bucketRecord) => {
        params.bucketSeen?.(bucketRecord);
        return newObjectRecord(params, { versionKey, isNull, nowMs: ctx.nowMs(), size: stored.size, etag, data: objectDataOf(stored), checksum, encryption: sealing?.encryption });
      },
      precondition ? { precondition } : {},
    );
  } catch (err) {
    await discard(ctx, stored);
    throw err;
  }
}
