// HeadBucket and GetBucketLocation.
import { getBucket } from '../../objects/buckets.js';
import { requireBucket, sendEmpty, sendXml, type RequestContext } from '../context.js';

export async function handleHeadBucket(c: RequestContext): Promise<void> {
  const bucket = await getBucket(c.objects, requireBucket(c));
  sendEmpty(c, 200, { 'x-amz-bucket-region': bucket.region });
}

export async function handleGetBucketLocation(c: RequestContext): Promise<void> {
  const bucket = await getBucket(c.objects, requireBucket(c));
  // AWS answers an empty LocationConstraint for us-east-1.
  sendXml(c, 'LocationConstraint', bucket.region === 'us-east-1' ? '' : bucket.region);
}
