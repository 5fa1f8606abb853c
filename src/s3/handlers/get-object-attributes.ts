// GetObjectAttributes (GET ?attributes): the attributes x-amz-object-attributes names (ETag, Checksum,
// ObjectParts, StorageClass, ObjectSize) of one version, without its body. Reads metadata only.
import { resolveVersionAndBucket, httpDate } from '../../objects/get-object.js';
import { checkCustomerKey } from '../../objects/sse.js';
import { customerKeyOf } from '../sse-headers.js';
import type { ObjectPart, VersionRecord } from '../../objects/records.js';
import { header, requireBucket, requireKey, sendXml, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { el, type XmlNode } from '../xml.js';
import { partNumberMax } from '../../constants.js';

const attributeNames = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type AttributeName = (typeof attributeNames)[number];
/** x-amz-max-parts defaults to and is capped at 1,000, as ListParts. */
const attributePartsMax = 1000;

function requestedAttributes(c: RequestContext): Set<AttributeName> {
  const raw = header(c, 'x-amz-object-attributes');
  const names = (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) {
    throw new S3Error('InvalidArgument', 'x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty', { extra: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: raw ?? '' } });
  }
  for (const name of names) {
    if (!(attributeNames as readonly string[]).includes(name)) {
      throw new S3Error('InvalidArgument', 'Invalid attribute name specified.', { extra: { ArgumentName: 'x-amz-object-attributes', ArgumentValue: name } });
    }
  }
  return new Set(names as AttributeName[]);
}

/** A non-negative integer header, or `fallback` when absent. */
function integerHeader(c: RequestContext, name: string, fallback: number, max: number): number {
  const raw = header(c, name);
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`, { extra: { ArgumentName: name, ArgumentValue: raw } });
  return Math.min(Number(raw.trim()), max);
}

/**
 * ObjectParts: for a multipart object only. AWS lists the parts (Part elements, paged by x-amz-max-parts
 * and x-amz-part-number-marker) only when the object has an additional checksum; otherwise it gives just
 * the parts count (API_GetObjectAttributesParts). The count element is PartsCount on the wire.
 */
function objectParts(c: RequestContext, record: VersionRecord): XmlNode {
  const parts = record.data.parts;
  if (!parts) return undefined;
  const algorithm = record.checksum?.algorithm;
  if (!algorithm) return el('ObjectParts', el('PartsCount', parts.length));
  const maxParts = integerHeader(c, 'x-amz-max-parts', attributePartsMax, attributePartsMax);
  const marker = integerHeader(c, 'x-amz-part-number-marker', 0, partNumberMax);
  const numbered = parts.map((part: ObjectPart, i) => ({ part, number: part.partNumber ?? i + 1 }));
  const after = numbered.filter((p) => p.number > marker);
  const page = after.slice(0, maxParts);
  const truncated = after.length > page.length;
  return el('ObjectParts', [
    el('PartNumberMarker', marker),
    truncated && page.length > 0 ? el('NextPartNumberMarker', page[page.length - 1]!.number) : undefined,
    el('MaxParts', maxParts),
    el('IsTruncated', truncated),
    el('PartsCount', parts.length),
    page.map(({ part, number }) => el('Part', [
      el('PartNumber', number),
      el('Size', part.size),
      part.checksum !== undefined ? el(`Checksum${algorithm}`, part.checksum) : undefined,
    ])),
  ]);
}

export async function handleGetObjectAttributes(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const attributes = requestedAttributes(c);
  const versionId = c.query.get('versionId');
  if (versionId === '') throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { extra: { ArgumentName: 'versionId', ArgumentValue: '' } });
  const customer = customerKeyOf(c);
  const { record, bucket: bucketRecord } = await resolveVersionAndBucket(c.objects, bucket, key, versionId ?? undefined);
  // An SSE-C object's attributes need its key, as its HEAD does (checked, not used: nothing is decrypted).
  if (record.encryption?.mode === 'customer' || customer) checkCustomerKey(record.encryption, customer?.key);
  const headers: Record<string, string> = { 'last-modified': httpDate(record.lastModifiedMs) };
  if (bucketRecord.versioning !== 'Unversioned' || !record.isNull) headers['x-amz-version-id'] = record.isNull ? 'null' : record.versionKey;
  const checksum = record.checksum;
  sendXml(c, 'GetObjectAttributesOutput', [
    // The ETag element carries no quotes, unlike the ETag header.
    attributes.has('ETag') ? el('ETag', record.etag.replace(/^"(.*)"$/, '$1')) : undefined,
    attributes.has('Checksum') && checksum
      ? el('Checksum', [el(`Checksum${checksum.algorithm}`, checksum.value), el('ChecksumType', checksum.type)])
      : undefined,
    attributes.has('ObjectParts') ? objectParts(c, record) : undefined,
    attributes.has('StorageClass') ? el('StorageClass', record.storageClass) : undefined,
    attributes.has('ObjectSize') ? el('ObjectSize', record.size) : undefined,
  ], headers);
}
