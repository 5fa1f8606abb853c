// ListBuckets: the account's buckets in name order, paged by max-buckets and continuation-token, filtered
// by prefix and bucket-region.
import { listBuckets } from '../../objects/buckets.js';
import { sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, isoDate } from '../xml.js';
import { listBucketsMax } from '../../constants.js';
import { accountOwnerXml } from '../acl.js';

function invalidArgument(name: string, value: string, message: string): S3Error {
  return new S3Error('InvalidArgument', message, { extra: { ArgumentName: name, ArgumentValue: value } });
}

function parseMaxBuckets(raw: string | null): number {
  if (raw === null) return listBucketsMax;
  const max = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(max >= 1 && max <= listBucketsMax)) throw invalidArgument('max-buckets', raw, `Argument max-buckets must be an integer between 1 and ${listBucketsMax}`);
  return max;
}

/** The token names the last bucket returned; it is opaque to clients, as AWS documents. */
function decodeToken(token: string): string {
  const name = Buffer.from(token, 'base64url').toString('utf8');
  if (!name.startsWith('b:')) throw invalidArgument('continuation-token', token, 'The continuation token provided is incorrect');
  return name.slice(2);
}

function encodeToken(name: string): string {
  return Buffer.from(`b:${name}`, 'utf8').toString('base64url');
}

export async function handleListBuckets(c: RequestContext): Promise<void> {
  // The root and any user allowed s3:ListAllMyBuckets see all of the account's buckets, as in AWS,
  // whichever key created them (the account owns every bucket).
  const max = parseMaxBuckets(c.query.get('max-buckets'));
  const token = c.query.get('continuation-token');
  const prefix = c.query.get('prefix');
  const region = c.query.get('bucket-region');
  const { buckets, isTruncated } = await listBuckets(c.objects, {
    max,
    ...(token ? { after: decodeToken(token) } : {}),
    ...(prefix ? { prefix } : {}),
    ...(region ? { region } : {}),
  });
  const last = buckets[buckets.length - 1];
  sendXml(c, 'ListAllMyBucketsResult', [
    el('Buckets', buckets.map((b) => el('Bucket', [el('Name', b.name), el('CreationDate', isoDate(b.createdMs)), el('BucketRegion', b.region)]))),
    el('Owner', accountOwnerXml),
    // ContinuationToken is the next page's token, present only when more buckets follow.
    isTruncated && last ? el('ContinuationToken', encodeToken(last.name)) : undefined,
    prefix !== null ? el('Prefix', prefix) : undefined,
  ]);
}
