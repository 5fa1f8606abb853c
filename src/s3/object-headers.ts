// The headers an object keeps (system metadata and x-amz-meta-*), and the headers a GET or HEAD answers
// with, including AWS's response-* query overrides and checksums on request.
import type { IncomingHttpHeaders } from 'node:http';
import type { VersionRecord } from '../objects/records.js';
import { httpDate } from '../objects/get-object.js';
import { S3Error } from './errors.js';
import type { Query } from './query.js';
import { userMetadataBytesMax } from '../constants.js';
import { checksumHeaderName } from '../util/checksum.js';
import { lockResponseHeaders } from './object-lock.js';

const storedSystemHeaders = ['content-type', 'content-encoding', 'content-disposition', 'content-language', 'cache-control', 'expires', 'x-amz-website-redirect-location'];
/** Every storage class name AWS defines: what x-amz-storage-class and --storage-classes may name. */
export const storageClassNames: ReadonlySet<string> = new Set(['STANDARD', 'REDUCED_REDUNDANCY', 'STANDARD_IA', 'ONEZONE_IA', 'INTELLIGENT_TIERING', 'GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR', 'OUTPOSTS', 'SNOW', 'EXPRESS_ONEZONE']);

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * A user metadata value as text. Node reads header bytes as latin1; botocore sends non-ASCII text as
 * UTF-8 bytes, which are decoded here so the stored text is what the client set. Bytes that are not
 * UTF-8 (the JS SDK sends latin1) stay as read.
 */
function metadataText(raw: string): string {
  if (!/[^\x00-\x7f]/.test(raw)) return raw;
  const bytes = Buffer.from(raw, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.byteLength(text) === bytes.length && !text.includes('\ufffd') ? text : raw;
}

/**
 * A stored value as a header value: text beyond latin1 cannot be sent as it is, so it goes out as one
 * RFC 2047 encoded-word over its UTF-8, the form AWS answers non-ASCII metadata in. Latin1 text goes out
 * as its latin1 bytes, which botocore and the JS SDK both read back as the same text.
 */
function headerValueText(value: string): string {
  return /[^\x00-\xff]/.test(value) ? `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=` : value;
}

/** The headers stored with a new object, from the request. */
export function storedHeadersFrom(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of storedSystemHeaders) {
    const value = single(headers[name]);
    if (value !== undefined) out[name] = value;
  }
  // aws-chunked is the transfer framing, not a property of the object: S3 strips it and keeps the rest
  // as sent (a value without it is stored byte for byte).
  const encoding = out['content-encoding'];
  if (encoding !== undefined && encoding.includes('aws-chunked')) {
    const codings = encoding.split(',').map((s) => s.trim());
    if (codings.includes('aws-chunked')) {
      const rest = codings.filter((s) => s !== '' && s !== 'aws-chunked');
      if (rest.length === 0) delete out['content-encoding'];
      else out['content-encoding'] = rest.join(', ');
    }
  }
  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const text = metadataText(single(value) ?? '');
    metaBytes += Buffer.byteLength(name.slice('x-amz-meta-'.length)) + Buffer.byteLength(text);
    out[name] = text;
  }
  if (metaBytes > userMetadataBytesMax) throw new S3Error('MetadataTooLarge', undefined, { extra: { Size: String(metaBytes), MaxSizeAllowed: String(userMetadataBytesMax) } });
  return out;
}

export function storageClassFrom(headers: IncomingHttpHeaders): string {
  const value = single(headers['x-amz-storage-class']) ?? 'STANDARD';
  if (!storageClassNames.has(value)) throw new S3Error('InvalidStorageClass', undefined, { extra: { StorageClassRequested: value } });
  return value;
}

const overrides: [query: string, header: string][] = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

/**
 * A response-* query value as a header value. Control characters cannot be sent in a header at all
 * (and CR/LF would split the answer), so they are refused; characters beyond Latin-1 (a UTF-8 file
 * name in response-content-disposition) go out as their UTF-8 bytes, since Node writes header
 * strings as Latin-1.
 */
function headerValueOf(query: string, value: string): string {
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/.test(value)) {
    throw new S3Error('InvalidArgument', `The ${query} parameter contains a character not allowed in a header`, { extra: { ArgumentName: query } });
  }
  return /[^\u0000-\u00ff]/.test(value) ? Buffer.from(value, 'utf8').toString('latin1') : value;
}

// The headers that depend on the record alone, built once per record: records read for GET and HEAD are
// shared and frozen (objects/records.ts decodeSharedRecord), so one object's GETs share these too.
const storedResponseHeaders = new WeakMap<VersionRecord, Readonly<Record<string, string>>>();

function storedResponseHeadersOf(record: VersionRecord): Readonly<Record<string, string>> {
  let out = storedResponseHeaders.get(record);
  if (out !== undefined) return out;
  const built: Record<string, string> = {
    etag: record.etag,
    'last-modified': httpDate(record.lastModifiedMs),
    'accept-ranges': 'bytes',
    'content-type': 'binary/octet-stream',
  };
  for (const [name, value] of Object.entries(record.headers)) built[name] = headerValueText(value);
  if (record.storageClass !== 'STANDARD') built['x-amz-storage-class'] = record.storageClass;
  if (record.tags && Object.keys(record.tags).length > 0) built['x-amz-tagging-count'] = String(Object.keys(record.tags).length);
  lockResponseHeaders(record, built);
  out = Object.freeze(built);
  storedResponseHeaders.set(record, out);
  return out;
}

/** Whether the query may hold a response-* override; most GETs have none, and six get()s cost more. */
function hasOverrides(query: Query): boolean {
  for (const [name] of query.pairs) if (name.startsWith('response-')) return true;
  return false;
}

export interface ResponseHeaderOptions {
  query: Query;
  versioned: boolean;
  checksumMode: boolean;
}

/** Headers of a GET or HEAD answer, except Content-Length and Content-Range. */
export function objectResponseHeaders(record: VersionRecord, options: ResponseHeaderOptions): Record<string, string> {
  const out: Record<string, string> = { ...storedResponseHeadersOf(record) };
  if (hasOverrides(options.query)) {
    for (const [query, name] of overrides) {
      const value = options.query.get(query);
      if (value !== null) out[name] = headerValueOf(query, value);
    }
  }
  if (options.versioned || !record.isNull) out['x-amz-version-id'] = record.isNull ? 'null' : record.versionKey;
  if (options.checksumMode && record.checksum) {
    out[checksumHeaderName(record.checksum.algorithm)] = record.checksum.value;
    out['x-amz-checksum-type'] = record.checksum.type;
  }
  return out;
}
