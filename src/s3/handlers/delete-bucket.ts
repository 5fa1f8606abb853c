// DeleteBucket: only an empty bucket (no versions, no delete markers, no uploads in progress).
import { deleteBucket } from '../../objects/buckets.js';
import { requireBucket, sendEmpty, type RequestContext } from '../context.js';

export async function handleDeleteBucket(c: RequestContext): Promise<void> {
  await deleteBucket(c.objects, requireBucket(c));
  sendEmpty(c, 204);
}
