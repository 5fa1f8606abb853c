// CreateBucket: AWS naming rules, LocationConstraint checked against our region, and re-creation.
import { accessCacheOf } from '../../objects/access-cache.js';
import { createBucket } from '../../objects/buckets.js';
import { ObjectError } from '../../objects/errors.js';
import { signerOf } from '../authorize.js';
import { header, readSmallBody, requireBucket, sendEmpty, type RequestContext } from '../context.js';
import { accountCanonicalId } from '../../iam/acl.js';
import { aclFromHeaders, checkAclAllowed } from '../acl.js';
import { parseOwnership } from './bucket-ownership.js';
import { S3Error } from '../errors.js';
import { validateBucketName } from '../names.js';
import { parseXml, xmlText } from '../xml.js';

/** x-amz-bucket-object-lock-enabled: "true" turns lock on; AWS takes other values as false. */
function objectLockRequested(c: RequestContext): boolean {
  return header(c, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true';
}

export async function handleCreateBucket(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  validateBucketName(bucket);
  const body = await readSmallBody(c);
  // No body, or no LocationConstraint in it, means us-east-1: any other region refuses it, as AWS does.
  const location = body.length > 0 ? (xmlText(parseXml(body, 'CreateBucketConfiguration'), 'LocationConstraint') ?? '') : '';
  // us-east-1 is the one region whose constraint is given by leaving it out. AWS refuses an explicit
  // "us-east-1" there (InvalidLocationConstraint); we accept it, as MinIO does, since clients send it.
  const expected = c.config.region === 'us-east-1' ? '' : c.config.region;
  if (location !== expected && !(location === 'us-east-1' && expected === '')) {
    if (location === '' || location === 'us-east-1') throw new S3Error('IllegalLocationConstraintException', `The unspecified location constraint is incompatible for the region specific endpoint this request was sent to.`);
    throw new S3Error('IllegalLocationConstraintException', `The ${location} location constraint is incompatible for the region specific endpoint this request was sent to.`);
  }
  const ownershipHeader = header(c, 'x-amz-object-ownership');
  const ownership = ownershipHeader !== undefined ? parseOwnership(ownershipHeader) : 'BucketOwnerEnforced';
  const requested = aclFromHeaders(c.req.headers, accountCanonicalId);
  // A new bucket has no Block Public Access settings of its own: the store's apply.
  if (requested) checkAclAllowed({ ownership }, requested, { storePublicAccessBlock: await accessCacheOf(c.objects.meta).storePublicAccessBlock(), creatingBucket: true });
  // Under BucketOwnerEnforced the one accepted ACL is the owner's FULL_CONTROL, which is no ACL at all.
  const acl = requested && ownership !== 'BucketOwnerEnforced' ? { acl: requested.acl } : {};
  try {
    // The account owns the bucket, as in AWS, whichever user's key created it: signerOf only refuses anonymous.
    signerOf(c);
    await createBucket(c.objects, bucket, accountCanonicalId, { objectLock: objectLockRequested(c), ownership, ...acl });
  } catch (err) {
    // S3's legacy answer in us-east-1: re-creating a bucket you own succeeds and changes nothing (its
    // objects, versioning and tags stay). Every other region answers 409 BucketAlreadyOwnedByYou.
    // ceph s3-tests test_bucket_create_exists accepts either.
    const ownedAlready = err instanceof ObjectError && err.code === 'BucketAlreadyOwnedByYou';
    if (!ownedAlready || c.config.region !== 'us-east-1') throw err;
  }
  sendEmpty(c, 200, { location: `/${bucket}` });
}
