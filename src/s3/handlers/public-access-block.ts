// PutPublicAccessBlock, GetPublicAccessBlock and DeletePublicAccessBlock for a bucket. The store-wide
// setting (on by default) is the admin API's; the one in force is the stricter of the two.
import { getBucket } from '../../objects/buckets.js';
import { setBucketPublicAccessBlock } from '../../objects/bucket-access.js';
import type { PublicAccessBlock } from '../../iam/types.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, parseXml, xmlText } from '../xml.js';
import { accessCacheOf } from '../../objects/access-cache.js';

const settings = ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets'] as const;

/** The configuration document; a setting left out is false, as AWS takes it. */
export function parsePublicAccessBlock(body: Buffer): PublicAccessBlock {
  const doc = parseXml(body, 'PublicAccessBlockConfiguration');
  const out = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };
  for (const name of settings) {
    const text = xmlText(doc, name)?.trim().toLowerCase();
    if (text === undefined) continue;
    if (text !== 'true' && text !== 'false') throw new S3Error('MalformedXML');
    out[name] = text === 'true';
  }
  return out;
}

export async function handlePutPublicAccessBlock(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  await getBucket(c.objects, bucket);
  const block = parsePublicAccessBlock(await readSmallBody(c));
  await setBucketPublicAccessBlock(c.objects, bucket, block);
  accessCacheOf(c.objects.meta).invalidateBucket(bucket);
  sendEmpty(c, 200);
}

export async function handleGetPublicAccessBlock(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  const block = record.publicAccessBlock;
  if (!block) throw new S3Error('NoSuchPublicAccessBlockConfiguration', undefined, { extra: { BucketName: record.name } });
  sendXml(c, 'PublicAccessBlockConfiguration', settings.map((name) => el(name, block[name])));
}

export async function handleDeletePublicAccessBlock(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  await setBucketPublicAccessBlock(c.objects, bucket, undefined);
  accessCacheOf(c.objects.meta).invalidateBucket(bucket);
  sendEmpty(c, 204);
}
