// GetBucketAcl and PutBucketAcl. Under BucketOwnerEnforced the ACL shown is the owner's FULL_CONTROL
// whatever is stored, and a PUT other than bucket-owner-full-control is refused.
import { accessCacheOf } from '../../objects/access-cache.js';
import { getBucket, setBucketAcl } from '../../objects/buckets.js';
import { accountCanonicalId, aclInForce, ownershipOf } from '../../iam/acl.js';
import { aclFromHeaders, aclFromXml, aclXml, checkAclAllowed, hasAclHeaders, type RequestedAcl } from '../acl.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';

export async function handleGetBucketAcl(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  sendXml(c, 'AccessControlPolicy', aclXml(aclInForce(ownershipOf(record), record.acl)));
}

/** The ACL a PutBucketAcl or PutObjectAcl sets: from its headers or its body, never both (AWS's rule). */
export async function aclOfAclPut(c: RequestContext, ownerId: string): Promise<RequestedAcl> {
  const body = await readSmallBody(c);
  if (hasAclHeaders(c.req.headers)) {
    if (body.length > 0) throw new S3Error('UnexpectedContent');
    return aclFromHeaders(c.req.headers, ownerId)!;
  }
  if (body.length === 0) throw new S3Error('MissingSecurityHeader', undefined, { extra: { MissingHeaderName: 'x-amz-acl' } });
  return aclFromXml(body, ownerId);
}

export async function handlePutBucketAcl(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const record = await getBucket(c.objects, bucket);
  const requested = await aclOfAclPut(c, accountCanonicalId);
  checkAclAllowed(record, requested, { storePublicAccessBlock: await accessCacheOf(c.objects.meta).storePublicAccessBlock() });
  await setBucketAcl(c.objects, bucket, requested.acl);
  sendEmpty(c, 200);
}
