// GetBucketOwnershipControls, PutBucketOwnershipControls and DeleteBucketOwnershipControls: the bucket's
// Object Ownership, which turns ACLs off (BucketOwnerEnforced, the default) or on.
import { getBucket, setBucketOwnership } from '../../objects/buckets.js';
import { accountCanonicalId, grantsOnlyOwner, ownershipOf } from '../../iam/acl.js';
import type { ObjectOwnership } from '../../iam/types.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, parseXml, xmlList, xmlText } from '../xml.js';

const ownerships: readonly ObjectOwnership[] = ['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter'];

/** An x-amz-object-ownership header value (CreateBucket), checked. */
export function parseOwnership(value: string): ObjectOwnership {
  if (!ownerships.includes(value as ObjectOwnership)) {
    throw new S3Error('InvalidArgument', 'Invalid x-amz-object-ownership header', { extra: { ArgumentName: 'x-amz-object-ownership', ArgumentValue: value.slice(0, 256) } });
  }
  return value as ObjectOwnership;
}

export async function handleGetBucketOwnershipControls(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  if (record.ownershipRemoved) throw new S3Error('OwnershipControlsNotFoundError', undefined, { extra: { BucketName: record.name } });
  sendXml(c, 'OwnershipControls', el('Rule', el('ObjectOwnership', ownershipOf(record))));
}

export async function handlePutBucketOwnershipControls(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  await getBucket(c.objects, bucket);
  const doc = parseXml(await readSmallBody(c), 'OwnershipControls');
  const rules = xmlList(doc, 'Rule');
  if (rules.length !== 1) throw new S3Error('MalformedXML');
  const value = xmlText(rules[0]!, 'ObjectOwnership');
  if (value === undefined || !ownerships.includes(value as ObjectOwnership)) throw new S3Error('MalformedXML');
  const ownership = value as ObjectOwnership;
  await setBucketOwnership(c.objects, bucket, ownership, (r) => {
    // Turning ACLs off while the bucket ACL grants others something would silently take that away: AWS
    // refuses it until the bucket ACL is back to the owner's alone.
    if (ownership === 'BucketOwnerEnforced' && ownershipOf(r) !== 'BucketOwnerEnforced' && r.acl && !grantsOnlyOwner(r.acl, accountCanonicalId)) {
      throw new S3Error('InvalidBucketAclWithObjectOwnership');
    }
  });
  sendEmpty(c, 200);
}

export async function handleDeleteBucketOwnershipControls(c: RequestContext): Promise<void> {
  await setBucketOwnership(c.objects, requireBucket(c), undefined);
  sendEmpty(c, 204);
}
