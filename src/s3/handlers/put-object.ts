// PutObject, with conditional writes (If-None-Match, If-Match) and flexible checksums.
import { putObject, type WriteConditions } from '../../objects/put-object.js';
import { header, requireBucket, requireKey, sendEmpty, type RequestContext } from '../context.js';
import { ownerOf } from '../authorize.js';
import { storageClassFrom, storedHeadersFrom } from '../object-headers.js';
import { customerKeyOf, encryptionRequestOf, encryptionResponseHeaders } from '../sse-headers.js';
import { currentExpiration, expirationHeader, type LifecycleConfiguration } from '../../objects/lifecycle-rules.js';
import { requestBody } from '../request-body.js';
import { checksumHeaderName } from '../../util/checksum.js';
import type { VersionRecord } from '../../objects/records.js';
import { parseTaggingHeader } from '../tags.js';
import { declaresIntegrity, optionalLock, requestedLockOf } from '../object-lock.js';
import { S3Error } from '../errors.js';
import { aclOfWrite } from './object-acl.js';

export function optionalTags(tags: Record<string, string> | undefined): { tags?: Record<string, string> } {
  return tags ? { tags } : {};
}

/**
 * If-Match and If-None-Match of a write. AWS documents only "*" for If-None-Match; an ETag list is taken with
 * RFC 9110's meaning (refuse if the current object's ETag is listed), as MinIO and Ceph RGW do.
 */
export function writeConditionsOf(c: RequestContext): WriteConditions {
  const ifMatch = header(c, 'if-match');
  const ifNoneMatch = header(c, 'if-none-match');
  return { ...(ifMatch !== undefined ? { ifMatch } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch } : {}) };
}

export function writeResponseHeaders(record: VersionRecord): Record<string, string> {
  return {
    etag: record.etag,
    ...(record.isNull ? {} : { 'x-amz-version-id': record.versionKey }),
    ...(record.checksum ? { [checksumHeaderName(record.checksum.algorithm)]: record.checksum.value, 'x-amz-checksum-type': record.checksum.type } : {}),
  };
}

export async function handlePutObject(c: RequestContext): Promise<void> {
  const lock = requestedLockOf(c.req.headers, c.objects.nowMs());
  const integrityDeclared = declaresIntegrity(c.req.headers);
  // AWS refuses lock parameters (or a bucket's default retention, checked with the bucket) on an upload
  // whose body nothing lets it verify.
  if (lock && !integrityDeclared) {
    throw new S3Error('InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
  }
  const encryption = encryptionRequestOf(c);
  const bucket = requireBucket(c);
  const params = {
    ...optionalLock(lock),
    integrityDeclared,
    bucket,
    key: requireKey(c),
    owner: await ownerOf(c),
    ...(await aclOfWrite(c, bucket, c.req.headers)),
    headers: storedHeadersFrom(c.req.headers),
    storageClass: storageClassFrom(c.req.headers),
    ...optionalTags(parseTaggingHeader(header(c, 'x-amz-tagging'))),
    ...writeConditionsOf(c),
    ...(encryption ? { encryption } : {}),
    signal: c.signal,
  };
  const body = requestBody(c);
  let lifecycle: LifecycleConfiguration | undefined;
  const record = await putObject(c.objects, { ...params, ...body, bucketSeen: (b) => (lifecycle = b.lifecycle) });
  // AWS answers a PUT with the new object's expiry by the bucket's rules, as GET and HEAD do.
  const expiry = lifecycle && currentExpiration(lifecycle, { key: record.key, size: record.size, tags: record.tags, lastModifiedMs: record.lastModifiedMs });
  sendEmpty(c, 200, {
    ...writeResponseHeaders(record),
    ...encryptionResponseHeaders(record.encryption, encryption?.mode === 'customer' ? customerKeyOf(c) : undefined, { withContext: true }),
    ...(expiry ? { 'x-amz-expiration': expirationHeader(expiry) } : {}),
  });
}
