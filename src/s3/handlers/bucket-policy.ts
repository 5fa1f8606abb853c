// PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy and GetBucketPolicyStatus. The policy is kept as
// the JSON text it was put as, once it parses as AWS would accept it; a public one is refused while Block
// Public Access has BlockPublicPolicy on (AWS answers that 403 AccessDenied).
import { getBucket } from '../../objects/buckets.js';
import { setBucketPolicy } from '../../objects/bucket-access.js';
import { parsePolicy, type Policy } from '../../iam/policy.js';
import { PolicyError } from '../../iam/policy-error.js';
import { isPublicPolicy } from '../../iam/public.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, withRequestId, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el } from '../xml.js';
import { accessCacheOf } from '../../objects/access-cache.js';
import { strictest } from '../authorize.js';

/** More than AWS's 20 KiB, so a policy just over it gets AWS's MalformedPolicy rather than a body error. */
const policyBodyBytesMax = 64 * 1024;

function parseBucketPolicy(text: string, bucket: string): Policy {
  try {
    return parsePolicy(text, { kind: 'bucket', bucket });
  } catch (err) {
    if (err instanceof PolicyError) throw new S3Error('MalformedPolicy', err.message, { cause: err });
    throw err;
  }
}

export async function handlePutBucketPolicy(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const record = await getBucket(c.objects, bucket);
  const text = (await readSmallBody(c, policyBodyBytesMax)).toString('utf8');
  const policy = parseBucketPolicy(text, bucket);
  const cache = accessCacheOf(c.objects.meta);
  const block = strictest(await cache.storePublicAccessBlock(), record.publicAccessBlock);
  if (block.BlockPublicPolicy && isPublicPolicy(policy)) throw new S3Error('AccessDenied');
  await setBucketPolicy(c.objects, bucket, text);
  cache.invalidateBucket(bucket);
  sendEmpty(c, 204);
}

export async function handleGetBucketPolicy(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  if (record.policy === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { extra: { BucketName: record.name } });
  const body = Buffer.from(record.policy, 'utf8');
  c.res.writeHead(200, withRequestId(c.requestId, { 'content-type': 'application/json', 'content-length': String(body.length) }));
  c.res.end(body);
}

export async function handleDeleteBucketPolicy(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  await setBucketPolicy(c.objects, bucket, undefined);
  accessCacheOf(c.objects.meta).invalidateBucket(bucket);
  sendEmpty(c, 204);
}

/** Whether the policy is public by AWS's definition, whatever Block Public Access says. */
export async function handleGetBucketPolicyStatus(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  if (record.policy === undefined) throw new S3Error('NoSuchBucketPolicy', undefined, { extra: { BucketName: record.name } });
  let isPublic = false;
  try {
    isPublic = isPublicPolicy(parsePolicy(record.policy, { kind: 'bucket', bucket: record.name }));
  } catch {
    // A stored policy that no longer parses grants nothing (see access-cache.ts): not public.
  }
  sendXml(c, 'PolicyStatus', [el('IsPublic', isPublic)]);
}
