// ListObjectsV2 and ListObjects (v1): current objects only, in UTF-8 binary order.
import { listObjects, type ListResult, type ObjectEntry } from '../../objects/list.js';
import { getBucket } from '../../objects/buckets.js';
import { requireBucket, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, escapeXml, isoDate, rawXml, renderXml, type XmlNode } from '../xml.js';
import { accountOwnerXml } from '../acl.js';
import { encoderFor, pageEncoder, parseMaxKeys, prefixAndDelimiter, type Encoder } from '../list-params.js';

/** The <Contents> of a page, written as one string: a thousand el() trees cost more to build and render. */
function contents(entries: ObjectEntry[], enc: Encoder, withOwner: boolean): XmlNode {
  const owner = withOwner ? renderXml(el('Owner', accountOwnerXml)) : '';
  let out = '';
  for (const { key, entry } of entries) {
    out += `<Contents><Key>${escapeXml(enc.encode(key))}</Key><LastModified>${isoDate(entry.lastModifiedMs)}</LastModified><ETag>${escapeXml(entry.etag)}</ETag><Size>${entry.size}</Size><StorageClass>${escapeXml(entry.storageClass)}</StorageClass>${owner}</Contents>`;
  }
  return rawXml(out);
}

/** Every name a page returns, for pageEncoder(). */
function* namesOf(result: ListResult<ObjectEntry>, ...params: (string | undefined)[]): Iterable<string | undefined> {
  yield* params;
  for (const { key } of result.entries) yield key;
  yield* result.commonPrefixes;
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith('k:')) throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', { extra: { ArgumentName: 'continuation-token' } });
  return text.slice(2);
}

function encodeToken(last: string): string {
  return Buffer.from(`k:${last}`, 'utf8').toString('base64url');
}

export async function handleListObjectsV2(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const requested = encoderFor(c.query);
  const { prefix, delimiter } = prefixAndDelimiter(c.query);
  const maxKeys = parseMaxKeys(c.query, 'max-keys');
  const token = c.query.get('continuation-token');
  const startAfter = c.query.get('start-after') ?? undefined;
  // An empty token is no token: AWS lists from the start and echoes it (ceph s3-tests
  // test_bucket_listv2_continuationtoken_empty).
  const after = token ? decodeToken(token) : startAfter;
  await getBucket(c.objects, bucket);
  const result = await listObjects(c.objects, bucket, { prefix, maxKeys, ...(delimiter ? { delimiter } : {}), ...(after !== undefined ? { after } : {}) });
  const enc = pageEncoder(requested, namesOf(result, prefix, delimiter, startAfter));
  sendXml(c, 'ListBucketResult', [
    el('Name', bucket),
    el('Prefix', enc.encode(prefix)),
    delimiter ? el('Delimiter', enc.encode(delimiter)) : undefined,
    el('MaxKeys', maxKeys),
    enc.type ? el('EncodingType', enc.type) : undefined,
    el('KeyCount', result.entries.length + result.commonPrefixes.length),
    el('IsTruncated', result.isTruncated),
    token !== null ? el('ContinuationToken', token) : undefined,
    result.isTruncated && result.last !== undefined ? el('NextContinuationToken', encodeToken(result.last)) : undefined,
    startAfter !== undefined ? el('StartAfter', enc.encode(startAfter)) : undefined,
    contents(result.entries, enc, c.query.get('fetch-owner') === 'true'),
    result.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc.encode(p)))),
  ]);
}

export async function handleListObjects(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const requested = encoderFor(c.query);
  const { prefix, delimiter } = prefixAndDelimiter(c.query);
  const maxKeys = parseMaxKeys(c.query, 'max-keys');
  const marker = c.query.get('marker') ?? '';
  await getBucket(c.objects, bucket);
  const result = await listObjects(c.objects, bucket, { prefix, maxKeys, ...(delimiter ? { delimiter } : {}), ...(marker !== '' ? { after: marker } : {}) });
  const enc = pageEncoder(requested, namesOf(result, prefix, delimiter, marker));
  sendXml(c, 'ListBucketResult', [
    el('Name', bucket),
    el('Prefix', enc.encode(prefix)),
    el('Marker', enc.encode(marker)),
    el('MaxKeys', maxKeys),
    delimiter ? el('Delimiter', enc.encode(delimiter)) : undefined,
    enc.type ? el('EncodingType', enc.type) : undefined,
    el('IsTruncated', result.isTruncated),
    // AWS sends NextMarker only with a delimiter; without one, clients continue from the last key.
    result.isTruncated && delimiter && result.last !== undefined ? el('NextMarker', enc.encode(result.last)) : undefined,
    contents(result.entries, enc, true),
    result.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc.encode(p)))),
  ]);
}
