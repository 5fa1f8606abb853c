// Multipart upload operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
// CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.
import type { IncomingHttpHeaders } from 'node:http';
import {
  abortUpload, completeUpload, createUpload, listUploads, readParts, readUpload, uploadPart, type CompletePart, type ExpectedChecksum,
} from '../../objects/multipart.js';
import { uploadPartCopy } from '../../objects/copy-object.js';
import { getBucket } from '../../objects/buckets.js';
import { header, readSmallBody, requireBucket, requireKey, sendEmpty, sendXml, type RequestContext } from '../context.js';
import { ownerOf } from '../authorize.js';
import { S3Error } from '../errors.js';
import { storageClassFrom, storedHeadersFrom } from '../object-headers.js';
import { copySourceCustomerHeaders, customerKeyOf, encryptionRequestOf, encryptionResponseHeaders } from '../sse-headers.js';
import type { ObjectEncryption } from '../../objects/records.js';
import { optionalLock, requestedLockOf } from '../object-lock.js';
import { requestBody } from '../request-body.js';
import { resolveCopySource } from '../copy-source.js';
import { el, isoDate, parseXml, xmlList, xmlText } from '../xml.js';
import { accountOwnerXml } from '../acl.js';
import { aclOfWrite } from './object-acl.js';
import { optionalTags, writeConditionsOf } from './put-object.js';
import { parseTaggingHeader } from '../tags.js';
import { checksumAlgorithms, checksumHeaderName, parseChecksumAlgorithm, type ChecksumAlgorithm } from '../../util/checksum.js';
import { encoderFor, pageEncoder, parseMaxKeys, prefixAndDelimiter } from '../list-params.js';
import { partNumberMax } from '../../constants.js';

function uploadIdOf(c: RequestContext): string {
  return c.query.get('uploadId') ?? '';
}

function partNumberOf(c: RequestContext): number {
  const raw = c.query.get('partNumber') ?? '';
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > partNumberMax) {
    throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { extra: { ArgumentName: 'partNumber', ArgumentValue: raw } });
  }
  return n;
}

function checksumElementName(algorithm: ChecksumAlgorithm): string {
  return `Checksum${algorithm}`;
}

export async function handleCreateMultipartUpload(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const encryption = encryptionRequestOf(c);
  const algorithmHeader = header(c, 'x-amz-checksum-algorithm');
  const algorithm = algorithmHeader !== undefined ? parseChecksumAlgorithm(algorithmHeader) : undefined;
  if (algorithmHeader !== undefined && !algorithm) throw new S3Error('InvalidRequest', 'Checksum algorithm provided is unsupported.');
  const typeHeader = header(c, 'x-amz-checksum-type')?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== 'FULL_OBJECT' && typeHeader !== 'COMPOSITE') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  if (typeHeader === 'FULL_OBJECT' && (algorithm === 'SHA1' || algorithm === 'SHA256')) throw new S3Error('InvalidRequest', `The FULL_OBJECT checksum type cannot be used with the ${algorithm.toLowerCase()} checksum algorithm.`);
  if (typeHeader === 'COMPOSITE' && algorithm === 'CRC64NVME') throw new S3Error('InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
  const acl = await aclOfWrite(c, bucket, c.req.headers);
  const upload = await createUpload(c.objects, {
    bucket, key, owner: await ownerOf(c), ...acl,
    headers: storedHeadersFrom(c.req.headers),
    storageClass: storageClassFrom(c.req.headers),
    ...optionalTags(parseTaggingHeader(header(c, 'x-amz-tagging'))),
    ...(algorithm ? { checksumAlgorithm: algorithm } : {}),
    ...(typeHeader === 'FULL_OBJECT' || typeHeader === 'COMPOSITE' ? { checksumType: typeHeader } : {}),
    ...optionalLock(requestedLockOf(c.req.headers, c.objects.nowMs())),
    ...(encryption ? { encryption } : {}),
  });
  sendXml(c, 'InitiateMultipartUploadResult', [el('Bucket', bucket), el('Key', key), el('UploadId', upload.uploadId)], {
    ...encryptionResponseHeaders(upload.encryption, encryption?.mode === 'customer' ? customerKeyOf(c) : undefined, { withContext: true }),
    ...(upload.checksumAlgorithm ? { 'x-amz-checksum-algorithm': upload.checksumAlgorithm, 'x-amz-checksum-type': upload.checksumType ?? 'COMPOSITE' } : {}),
  });
}

export async function handleUploadPart(c: RequestContext): Promise<void> {
  const partNumber = partNumberOf(c);
  const customer = customerKeyOf(c);
  const body = requestBody(c);
  let encryption: ObjectEncryption | undefined;
  const part = await uploadPart(c.objects, {
    ...(customer ? { customerKey: customer.key } : {}),
    encryptionSeen: (e) => (encryption = e),
    bucket: requireBucket(c), key: requireKey(c), uploadId: uploadIdOf(c), partNumber,
    body: body.body, size: body.size, ...(body.contentMd5 ? { contentMd5: body.contentMd5 } : {}),
    ...(body.bodyMd5 ? { bodyMd5: body.bodyMd5 } : {}),
    ...(body.body.checksum ? { checksumAlgorithm: body.body.checksum.algorithm } : {}),
    checksum: () => {
      const value = body.checksum();
      return value ? { algorithm: value.algorithm, value: value.value } : undefined;
    },
    signal: c.signal,
  });
  const checksums = Object.entries(part.checksums).map(([alg, value]) => [checksumHeaderName(alg as ChecksumAlgorithm), value]);
  sendEmpty(c, 200, { etag: part.etag, ...Object.fromEntries(checksums), ...encryptionResponseHeaders(encryption, customer) });
}

/**
 * The x-amz-copy-source-range of UploadPartCopy. AWS answers 400 InvalidArgument both for a malformed
 * value and for one past the source's end (the messages below are its own); ceph s3-tests
 * (test_multipart_copy_invalid_range) expect InvalidRange for the latter, which AWS does not send.
 */
function copyRange(value: string | undefined, size: number): { start: number; end: number } {
  if (value === undefined) return { start: 0, end: size };
  const invalid = (message: string) => new S3Error('InvalidArgument', message, { extra: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: value } });
  const m = /^bytes=(\d+)-(\d+)$/.exec(value.trim());
  if (!m || Number(m[2]) < Number(m[1])) {
    throw invalid('The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy');
  }
  if (Number(m[2]) >= size) throw invalid(`Range specified is not valid for source object of size: ${size}`);
  return { start: Number(m[1]), end: Number(m[2]) + 1 };
}

export async function handleUploadPartCopy(c: RequestContext): Promise<void> {
  const partNumber = partNumberOf(c);
  const customer = customerKeyOf(c);
  const sourceCustomer = customerKeyOf(c, copySourceCustomerHeaders);
  const { source, record } = await resolveCopySource(c);
  const range = copyRange(header(c, 'x-amz-copy-source-range'), record.size);
  let encryption: ObjectEncryption | undefined;
  const part = await uploadPartCopy(c.objects, {
    bucket: requireBucket(c), key: requireKey(c), uploadId: uploadIdOf(c), partNumber, source: record, sourceBucket: source.bucket, ...range, signal: c.signal,
    ...(customer ? { customerKey: customer.key } : {}),
    ...(sourceCustomer ? { sourceCustomerKey: sourceCustomer.key } : {}),
    encryptionSeen: (e) => (encryption = e),
  });
  const checksums = Object.entries(part.checksums).map(([alg, value]) => el(checksumElementName(alg as ChecksumAlgorithm), value));
  sendXml(c, 'CopyPartResult', [el('LastModified', isoDate(part.lastModifiedMs)), el('ETag', part.etag), checksums], {
    ...encryptionResponseHeaders(encryption, customer),
    ...(record.isNull ? {} : { 'x-amz-copy-source-version-id': record.versionKey }),
  });
}

function completeParts(doc: Record<string, unknown>): CompletePart[] {
  const parts = xmlList(doc, 'Part');
  if (parts.length === 0) throw new S3Error('MalformedXML');
  return parts.map((p) => {
    const number = xmlText(p, 'PartNumber');
    const etag = xmlText(p, 'ETag');
    if (number === undefined || etag === undefined || !/^\d+$/.test(number.trim())) throw new S3Error('MalformedXML');
    const checksums: CompletePart['checksums'] = {};
    for (const alg of checksumAlgorithms) {
      const value = xmlText(p, checksumElementName(alg));
      if (value !== undefined) checksums[alg] = value;
    }
    return { partNumber: Number(number.trim()), etag, checksums };
  });
}

/**
 * On CompleteMultipartUpload an x-amz-checksum-<alg> header is the checksum of the whole object, to be
 * checked against the one the parts make up, not a checksum of the XML body; x-amz-checksum-type names
 * its type. Returns it, and the headers to read the body with (those without it).
 */
function objectChecksumOf(c: RequestContext): { expected?: ExpectedChecksum; bodyHeaders: IncomingHttpHeaders } {
  const named = checksumAlgorithms.filter((alg) => c.req.headers[checksumHeaderName(alg)] !== undefined);
  if (named.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const typeHeader = header(c, 'x-amz-checksum-type')?.toUpperCase();
  if (typeHeader !== undefined && typeHeader !== 'FULL_OBJECT' && typeHeader !== 'COMPOSITE') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  const type = typeHeader as 'FULL_OBJECT' | 'COMPOSITE' | undefined;
  const algorithm = named[0];
  if (!algorithm) return { ...(type ? { expected: { type } } : {}), bodyHeaders: c.req.headers };
  const { [checksumHeaderName(algorithm)]: value, ...bodyHeaders } = c.req.headers;
  return { expected: { algorithm, value: String(value).trim(), ...(type ? { type } : {}) }, bodyHeaders };
}

/**
 * The object's URL as AWS gives it in CompleteMultipartUpload: the address the request used (path- or
 * virtual-hosted-style, the key still URI-encoded as the client sent it) on the request's host. Tessera
 * speaks plain HTTP itself; behind a TLS proxy that says so in X-Forwarded-Proto the URL is https.
 */
function locationOf(c: RequestContext): string {
  const url = c.req.url ?? '/';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const host = header(c, 'host');
  const scheme = header(c, 'x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https' ? 'https' : 'http';
  return host ? `${scheme}://${host}${path}` : path;
}

export async function handleCompleteMultipartUpload(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  const conditions = writeConditionsOf(c);
  const { expected, bodyHeaders } = objectChecksumOf(c);
  const parts = completeParts(parseXml(await readSmallBody(c, undefined, bodyHeaders), 'CompleteMultipartUpload'));
  const record = await completeUpload(c.objects, { bucket, key, uploadId: uploadIdOf(c), parts, conditions, ...(expected ? { expectedChecksum: expected } : {}) });
  const headers = {
    ...encryptionResponseHeaders(record.encryption, undefined),
    ...(record.isNull ? {} : { 'x-amz-version-id': record.versionKey }),
    ...(record.checksum ? { [checksumHeaderName(record.checksum.algorithm)]: record.checksum.value, 'x-amz-checksum-type': record.checksum.type } : {}),
  };
  sendXml(c, 'CompleteMultipartUploadResult', [
    el('Location', locationOf(c)),
    el('Bucket', bucket),
    el('Key', key),
    el('ETag', record.etag),
    record.checksum ? el(checksumElementName(record.checksum.algorithm), record.checksum.value) : undefined,
    record.checksum ? el('ChecksumType', record.checksum.type) : undefined,
  ], headers);
}

export async function handleAbortMultipartUpload(c: RequestContext): Promise<void> {
  await abortUpload(c.objects, { bucket: requireBucket(c), key: requireKey(c), uploadId: uploadIdOf(c) });
  sendEmpty(c, 204);
}

export async function handleListParts(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  await getBucket(c.objects, bucket);
  const { record: upload } = await readUpload(c.objects, bucket, key, uploadIdOf(c));
  const maxParts = parseMaxKeys(c.query, 'max-parts');
  const markerRaw = c.query.get('part-number-marker') ?? '0';
  if (!/^\d*$/.test(markerRaw)) throw new S3Error('InvalidArgument', 'Provided part-number-marker not an integer', { extra: { ArgumentName: 'part-number-marker', ArgumentValue: markerRaw } });
  // Past the last possible part number nothing follows; clamping also keeps the key encoding in range.
  const marker = Math.min(Number(markerRaw || '0'), partNumberMax);
  const { records } = await readParts(c.objects, upload.uploadId, marker, maxParts + 1);
  const page = records.slice(0, maxParts);
  const truncated = records.length > maxParts;
  const owner = accountOwnerXml;
  sendXml(c, 'ListPartsResult', [
    el('Bucket', bucket), el('Key', key), el('UploadId', upload.uploadId),
    el('Initiator', owner), el('Owner', owner), el('StorageClass', upload.storageClass),
    el('PartNumberMarker', marker),
    page.length > 0 ? el('NextPartNumberMarker', page[page.length - 1]!.partNumber) : undefined,
    el('MaxParts', maxParts), el('IsTruncated', truncated),
    upload.checksumAlgorithm ? el('ChecksumAlgorithm', upload.checksumAlgorithm) : undefined,
    upload.checksumType ? el('ChecksumType', upload.checksumType) : undefined,
    page.map((p) => el('Part', [
      el('PartNumber', p.partNumber), el('LastModified', isoDate(p.lastModifiedMs)), el('ETag', p.etag), el('Size', p.size),
      Object.entries(p.checksums).map(([alg, v]) => el(checksumElementName(alg as ChecksumAlgorithm), v)),
    ])),
  ]);
}

export async function handleListMultipartUploads(c: RequestContext): Promise<void> {
  const bucket = requireBucket(c);
  const requested = encoderFor(c.query);
  const { prefix, delimiter } = prefixAndDelimiter(c.query);
  const maxUploads = parseMaxKeys(c.query, 'max-uploads');
  const keyMarker = c.query.get('key-marker') ?? '';
  const uploadIdMarker = c.query.get('upload-id-marker') ?? '';
  const result = await listUploads(c.objects, bucket, {
    prefix, maxUploads, ...(delimiter ? { delimiter } : {}),
    ...(keyMarker ? { keyMarker } : {}), ...(keyMarker && uploadIdMarker ? { uploadIdMarker } : {}),
  });
  const last = result.entries[result.entries.length - 1];
  const enc = pageEncoder(requested, [prefix, delimiter, keyMarker, ...result.entries.map((u) => u.key), ...result.commonPrefixes]);
  sendXml(c, 'ListMultipartUploadsResult', [
    el('Bucket', bucket),
    el('KeyMarker', enc.encode(keyMarker)),
    el('UploadIdMarker', uploadIdMarker),
    result.isTruncated && result.last !== undefined ? el('NextKeyMarker', enc.encode(result.last)) : undefined,
    result.isTruncated && last && result.last === last.key ? el('NextUploadIdMarker', last.uploadId) : undefined,
    el('Prefix', enc.encode(prefix)),
    delimiter ? el('Delimiter', enc.encode(delimiter)) : undefined,
    el('MaxUploads', maxUploads),
    enc.type ? el('EncodingType', enc.type) : undefined,
    el('IsTruncated', result.isTruncated),
    result.entries.map((u) => el('Upload', [
      el('Key', enc.encode(u.key)), el('UploadId', u.uploadId),
      el('Initiator', accountOwnerXml),
      el('Owner', accountOwnerXml),
      el('StorageClass', u.storageClass), el('Initiated', isoDate(u.initiatedMs)),
      u.checksumAlgorithm ? el('ChecksumAlgorithm', u.checksumAlgorithm) : undefined,
    ])),
    result.commonPrefixes.map((p) => el('CommonPrefixes', el('Prefix', enc.encode(p)))),
  ]);
}
