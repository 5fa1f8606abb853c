// GetObject and HeadObject: version resolution, preconditions, ranges and part numbers, response-*
// overrides, and the body streamed with backpressure (an error after the headers cuts the connection).
import { resolveVersionAndBucket } from '../../objects/get-object.js';
import { currentExpiration, expirationHeader } from '../../objects/lifecycle-rules.js';
import { inlineRange, readDataLeased, readSealedLeased } from '../../objects/data.js';
import { sealedDataOf } from '../../objects/sse.js';
import { customerKeyOf, encryptionResponseHeaders, refuseEncryptionOnRead } from '../sse-headers.js';
import type { VersionRecord } from '../../objects/records.js';
import { header, requireBucket, requireKey, withRequestId, type RequestContext } from '../context.js';
import { S3Error } from '../errors.js';
import { enforceReadConditions, parseRange, type ByteRange } from '../conditions.js';
import { objectResponseHeaders } from '../object-headers.js';
import { sendLeased } from '../send-leased.js';
import { partNumberMax } from '../../constants.js';
import { checksumHeaderName } from '../../util/checksum.js';
import type { LeasedBytes } from '../../blocks/types.js';

function versionIdParam(c: RequestContext): string | undefined {
  const versionId = c.query.get('versionId');
  if (versionId === '') throw new S3Error('InvalidArgument', 'Version id cannot be the empty string', { extra: { ArgumentName: 'versionId', ArgumentValue: '' } });
  return versionId ?? undefined;
}

/**
 * The bytes of ?partNumber=N: part N of a multipart object (206, with x-amz-mp-parts-count), or, of any
 * other object, the whole of it as part 1 (206 without a parts count, which AWS only sends for multipart
 * objects; an empty object has no byte range to name, so it is a plain 200). A part the object does not
 * have is 416 InvalidPartNumber, as the AWS error catalog gives it.
 */
function partRange(c: RequestContext, record: VersionRecord): { range?: ByteRange; count?: number; checksum?: string } | undefined {
  const raw = c.query.get('partNumber');
  if (raw === null) return undefined;
  if (header(c, 'range') !== undefined) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > partNumberMax) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', { extra: { ArgumentName: 'partNumber', ArgumentValue: raw } });
  const parts = record.data.parts;
  const count = parts?.length ?? 1;
  if (n > count) throw new S3Error('InvalidPartNumber', undefined, { headers: { 'content-range': `bytes */${record.size}` } });
  const whole = record.checksum?.value;
  if (!parts) return record.size === 0 ? { ...(whole ? { checksum: whole } : {}) } : { range: { start: 0, end: record.size }, ...(whole ? { checksum: whole } : {}) };
  let start = 0;
  for (let i = 0; i < n - 1; i++) start += parts[i]!.size;
  const checksum = parts[n - 1]!.checksum;
  return { range: { start, end: start + parts[n - 1]!.size }, count, ...(checksum !== undefined ? { checksum } : {}) };
}

async function serve(c: RequestContext, withBody: boolean): Promise<void> {
  const bucket = requireBucket(c);
  const key = requireKey(c);
  refuseEncryptionOnRead(c);
  const customer = customerKeyOf(c);
  const { record, bucket: bucketRecord } = await resolveVersionAndBucket(c.objects, bucket, key, versionIdParam(c));
  const ifMatch = header(c, 'if-match');
  const ifNoneMatch = header(c, 'if-none-match');
  const ifModifiedSince = header(c, 'if-modified-since');
  const ifUnmodifiedSince = header(c, 'if-unmodified-since');
  // Most reads carry no precondition; skip building the conditions object for them.
  if (ifMatch !== undefined || ifNoneMatch !== undefined || ifModifiedSince !== undefined || ifUnmodifiedSince !== undefined) {
    enforceReadConditions(record, {
      ...optional('ifMatch', ifMatch),
      ...optional('ifNoneMatch', ifNoneMatch),
      ...optional('ifModifiedSince', ifModifiedSince),
      ...optional('ifUnmodifiedSince', ifUnmodifiedSince),
    });
  }
  // An encrypted object's data key is opened for HEAD too: a missing or wrong SSE-C key, or a disabled KMS
  // key, fails a HEAD as it fails a GET.
  const sealed = record.encryption || customer ? await sealedDataOf(c.objects, bucket, record, customer?.key) : undefined;
  const part = partRange(c, record);
  const range = part ? part.range : parseRange(header(c, 'range'), record.size);
  const checksumMode = header(c, 'x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
  const headers = objectResponseHeaders(record, {
    query: c.query,
    versioned: bucketRecord.versioning !== 'Unversioned',
    checksumMode: checksumMode && range === undefined,
  });
  // A part is answered with its own checksum (what a client can verify its bytes against) and the object's type.
  if (checksumMode && part?.checksum !== undefined && record.checksum) {
    headers[checksumHeaderName(record.checksum.algorithm)] = part.checksum;
    headers['x-amz-checksum-type'] = record.checksum.type;
  }
  if (part?.count !== undefined) headers['x-amz-mp-parts-count'] = String(part.count);
  if (record.encryption) Object.assign(headers, encryptionResponseHeaders(record.encryption, customer));
  // The current version's expiry by the bucket's rules (AWS sends it on GET and HEAD; rule-id URL-encoded).
  if (bucketRecord.lifecycle && versionIdParam(c) === undefined) {
    const expiry = currentExpiration(bucketRecord.lifecycle, { key, size: record.size, tags: record.tags, lastModifiedMs: record.lastModifiedMs });
    if (expiry) headers['x-amz-expiration'] = expirationHeader(expiry);
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? record.size;
  headers['content-length'] = String(end - start);
  if (range && end > start) headers['content-range'] = `bytes ${start}-${end - 1}/${record.size}`; // an empty part has no byte range
  const status = range ? 206 : 200;
  if (!withBody || end === start) {
    c.res.writeHead(status, withRequestId(c.requestId, headers));
    c.res.end();
    return;
  }
  // An inline body is already in memory: one write carries it with the headers. A stream pipeline costs
  // more CPU than all the rest of a small GET (bench/http.ts: 4 KiB GETs went 2.1× faster without it).
  const inline = sealed ? undefined : inlineRange(record.data, start, end);
  if (inline) {
    c.res.writeHead(status, withRequestId(c.requestId, headers));
    c.res.end(inline);
    return;
  }
  // Block data goes out as leases, so each read buffer returns to the pool once the socket has sent it.
  // The first stripe is read before the status line: a read beyond the redundancy budget then fails while
  // it can still be a 503 with an S3 error body, not a connection cut after a 200 (issue #10).
  const leases = sealed ? readSealedLeased(c.objects, sealed, start, end, c.signal) : readDataLeased(c.objects, record.data, start, end, c.signal);
  const first = await leases.next();
  c.res.writeHead(status, withRequestId(c.requestId, headers));
  await sendLeased(c.res, startingWith(first, leases), c.signal);
}

/** The leases of `rest`, after the one already taken from it; closes `rest` when the consumer stops early. */
async function* startingWith(first: IteratorResult<LeasedBytes>, rest: AsyncGenerator<LeasedBytes>): AsyncGenerator<LeasedBytes> {
  try {
    if (first.done) return;
    yield first.value;
    yield* rest;
  } finally {
    await rest.return(undefined);
  }
}

function optional<K extends string>(name: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [name]: value }) as { [P in K]?: string };
}

export function handleGetObject(c: RequestContext): Promise<void> {
  return serve(c, true);
}

export function handleHeadObject(c: RequestContext): Promise<void> {
  return serve(c, false);
}

/**
 * GetObjectTorrent: a key that does not exist is 404 NoSuchKey as AWS answers; for one that does, we
 * serve no torrent (there is no tracker or seeder behind it), so the answer is 501 NotImplemented
 * rather than a 404 that would claim the object missing.
 */
export async function handleGetObjectTorrent(c: RequestContext): Promise<void> {
  await resolveVersionAndBucket(c.objects, requireBucket(c), requireKey(c));
  throw new S3Error('NotImplemented', 'GetObjectTorrent is not implemented');
}
