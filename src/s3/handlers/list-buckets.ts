// ListBuckets.
import { listBuckets } from '../../objects/buckets.js';
import { sendXml, type RequestContext } from '../context.js';
import { el, isoDate } from '../xml.js';

export async function handleListBuckets(c: RequestContext): Promise<void> {
  const owner = c.auth.accessKeyId;
  const buckets = await listBuckets(c.objects, owner);
  sendXml(c, 'ListAllMyBucketsResult', [
    el('Owner', [el('ID', owner), el('DisplayName', owner)]),
    el('Buckets', buckets.map((b) => el('Bucket', [el('Name', b.name), el('CreationDate', isoDate(b.createdMs)), el('BucketRegion', b.region)]))),
  ]);
}
