// DeleteBucket: only a bucket without versions or delete markers; uploads in progress are aborted with it.
import { deleteBucket } from '../../objects/buckets.js';
import { requireBucket, sendEmpty, type RequestContext } from '../context.js';

export async function handleDeleteBucket(c: RequestContext): Promise<void> {
  await deleteBucket(c.objects, requireBucket(c));
  sendEmpty(c, 204);
}
