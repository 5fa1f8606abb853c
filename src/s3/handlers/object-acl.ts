// GetObjectAcl and PutObjectAcl, on the current version or one by id; and the ACL a write (PutObject,
// CopyObject, CreateMultipartUpload) sets through its x-amz-acl and x-amz-grant-* headers.
import { accessCacheOf } from '../../objects/access-cache.js';
import type { IncomingHttpHeaders } from 'node:http';
import { getBucket } from '../../objects/buckets.js';
import { getObjectAcl, putObjectAcl } from '../../objects/acl.js';
import { versionIdOf, type VersionRecord } from '../../objects/records.js';
import { accountCanonicalId, aclInForce, ownershipOf } from '../../iam/acl.js';
import type { Acl } from '../../iam/types.js';
import { aclFromHeaders, aclXml, checkAclAllowed, hasAclHeaders } from '../acl.js';
import { requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { aclOfAclPut } from './bucket-acl.js';

function versionHeader(record: VersionRecord): Record<string, string> {
  return record.isNull ? {} : { 'x-amz-version-id': versionIdOf(record) };
}

export async function handleGetObjectAcl(c: RequestContext): Promise<void> {
  const { record, bucket } = await getObjectAcl(c.objects, requireBucket(c), requireKey(c), c.query.get('versionId') ?? undefined);
  sendXml(c, 'AccessControlPolicy', aclXml(aclInForce(ownershipOf(bucket), record.acl)), versionHeader(record));
}

export async function handlePutObjectAcl(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const bucketRecord = await getBucket(c.objects, bucket);
  const requested = await aclOfAclPut(c, accountCanonicalId);
  checkAclAllowed(bucketRecord, requested, { storePublicAccessBlock: await accessCacheOf(c.objects.meta).storePublicAccessBlock() });
  const record = await putObjectAcl(c.objects, bucket, key, c.query.get('versionId') ?? undefined, requested.acl);
  sendEmpty(c, 200, versionHeader(record));
}

/**
 * The ACL a write's headers give the new object, checked against the bucket's Object Ownership and Block
 * Public Access; {} when it sets none, or when ACLs are off (then the one accepted ACL changes nothing).
 * The bucket is read only when ACL headers are present, so a plain PUT costs nothing more.
 */
export async function aclOfWrite(c: Pick<RequestContext, 'objects' | 'config'>, bucket: string, headers: IncomingHttpHeaders): Promise<{ acl?: Acl }> {
  if (!hasAclHeaders(headers)) return {};
  const record = await getBucket(c.objects, bucket);
  const requested = aclFromHeaders(headers, accountCanonicalId)!;
  checkAclAllowed(record, requested, { storePublicAccessBlock: await accessCacheOf(c.objects.meta).storePublicAccessBlock() });
  return ownershipOf(record) === 'BucketOwnerEnforced' ? {} : { acl: requested.acl };
}
