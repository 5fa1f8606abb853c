// GetBucketTagging, PutBucketTagging and DeleteBucketTagging. The tag set lives in the bucket record;
// a bucket without one answers NoSuchTagSet.
import { getBucket, setBucketTags } from '../../objects/buckets.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { bucketTagRules, parseTaggingXml, tagSetXml } from '../tags.js';

export async function handleGetBucketTagging(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  if (!record.tags) throw new S3Error('NoSuchTagSet', undefined, { extra: { BucketName: record.name } });
  sendXml(c, 'Tagging', tagSetXml(record.tags));
}

export async function handlePutBucketTagging(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  await getBucket(c.objects, bucket);
  const tags = parseTaggingXml(await readSmallBody(c), bucketTagRules);
  await setBucketTags(c.objects, bucket, tags);
  sendEmpty(c, 204);
}

export async function handleDeleteBucketTagging(c: RequestContext): Promise<void> {
  await setBucketTags(c.objects, requireBucket(c), {});
  sendEmpty(c, 204);
}
