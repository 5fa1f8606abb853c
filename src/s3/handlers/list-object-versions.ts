// ListObjectVersions: every version and delete marker, key ascending and newest first within a key.
import { listVersions, lastVersionId, type VersionEntry } from '../../objects/list.js';
import { getBucket } from '../../objects/buckets.js';
import { versionIdOf } from '../../objects/records.js';
import { requireBucket, sendXml, type RequestContext } from '../context.js';
import { el, escapeXml, isoDate, rawXml, renderXml, type XmlNode } from '../xml.js';
import { accountOwnerXml } from '../acl.js';
import { encoderFor, pageEncoder, parseMaxKeys, prefixAndDelimiter, type Encoder } from '../list-params.js';
import { S3Error } from '../errors.js';

/** The <Version> and <DeleteMarker> elements of a page, written as one string (as ListObjects' <Contents>). */
function versionsXml(entries: VersionEntry[], enc: Encoder): XmlNode {
  const owner = renderXml(el('Owner', accountOwnerXml));
  let out = '';
  for (const { record, isLatest } of entries) {
    const common = `<Key>${escapeXml(enc.encode(record.key))}</Key><VersionId>${escapeXml(versionIdOf(record))}</VersionId><IsLatest>${isLatest}</IsLatest><LastModified>${isoDate(record.lastModifiedMs)}</LastModified>`;
    out += record.deleteMarker
      ? `<DeleteMarker>${common}${owner}</DeleteMarker>`
      : `<Version>${common}<ETag>${escapeXml(record.etag)}</ETag><Size>${record.size}</Size><StorageClass>${escapeXml(record.storageClass)}</StorageClass>${owner}</Version>`;
  }
  return rawXml(out);
}

export async function handleListObjectVersions(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const requested = encoderFor(c.query);
  const { prefix, delimiter } = prefixAndDelimiter(c.query);
  const maxKeys = parseMaxKeys(c.query, 'max-keys');
  const keyMarker = c.query.get('key-marker') ?? '';
  const versionIdMarker = c.query.get('version-id-marker') ?? '';
  if (versionIdMarker !== '' && keyMarker === '') {
    throw new S3Error('InvalidArgument', 'A version-id marker cannot be specified without a key marker.', { extra: { ArgumentName: 'version-id-marker', ArgumentValue: versionIdMarker } });
  }
  await getBucket(c.objects, bucket);
  const result = await listVersions(c.objects, bucket, {
    prefix, maxKeys,
    ...(delimiter ? { delimiter } : {}),
    ...(keyMarker !== '' ? { after: keyMarker } : {}),
    ...(versionIdMarker !== '' ? { versionIdMarker } : {}),
  });
  const nextVersionId = result.isTruncated ? lastVersionId(result) : undefined;
  const enc = pageEncoder(requested, [prefix, delimiter, keyMarker, ...result.entries.map((e) => e.record.key), ...result.commonPrefixes]);
  sendXml(c, 'ListVersionsResult', [
    el('Name', bucket),
    el('Prefix', enc.encode(prefix)),
    el('KeyMarker', enc.encode(keyMarker)),
    el('VersionIdMarker', versionIdMarker),
    el('MaxKeys', maxKeys),
    delimiter ? el('Delimiter', enc.encode(delimiter)) : undefined,
    enc.type ? el('EncodingType', enc.type) : undefined,
    el('IsTruncated', result.isTruncated),
    result.isTruncated && result.last !== undefined ? el('NextKeyMarker', enc.encode(result.last)) : undefined,
    nextVersionId !== undefined ? el('NextVersionIdMarker', nextVersionId) : undefined,
    versionsXml(result.entries, enc),
    result.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc.encode(p)))),
  ]);
}
