// GetBucketLifecycleConfiguration, PutBucketLifecycleConfiguration and DeleteBucketLifecycle. The
// configuration lives in the bucket record; the lifecycle worker (src/workers/lifecycle.ts) applies it.
import { getBucket, setBucketLifecycle } from '../../objects/buckets.js';
import { readSmallBody, requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { lifecycleXml, parseLifecycleXml } from '../lifecycle-xml.js';

export async function handleGetBucketLifecycle(c: RequestContext): Promise<void> {
  const record = await getBucket(c.objects, requireBucket(c));
  if (!record.lifecycle) throw new S3Error('NoSuchLifecycleConfiguration', undefined, { extra: { BucketName: record.name } });
  // AWS names the default minimum-size rule of new configurations here; this store applies no such default.
  sendXml(c, 'LifecycleConfiguration', lifecycleXml(record.lifecycle));
}

export async function handlePutBucketLifecycle(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  await getBucket(c.objects, bucket);
  const config = parseLifecycleXml(await readSmallBody(c));
  await setBucketLifecycle(c.objects, bucket, config);
  sendEmpty(c, 200);
}

export async function handleDeleteBucketLifecycle(c: RequestContext): Promise<void> {
  await setBucketLifecycle(c.objects, requireBucket(c), undefined);
  sendEmpty(c, 204);
}
