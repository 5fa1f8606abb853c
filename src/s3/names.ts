// Validation of bucket names and object keys, as AWS documents them.
import { S3Error } from './errors.js';
import type { Query } from './query.js';
import { objectKeyBytesMax } from '../constants.js';

/** AWS's rules for general purpose buckets: 3–63 chars, lowercase, digits, dots, hyphens, no IP form. */
export function validateBucketName(name: string): void {
  const invalid = (): never => {
    throw new S3Error('InvalidBucketName', undefined, { extra: { BucketName: name } });
  };
  if (name.length < 3 || name.length > 63) invalid();
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) invalid();
  if (name.includes('..') || name.includes('.-') || name.includes('-.')) invalid();
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) invalid();
  if (name.startsWith('xn--') || name.startsWith('sthree-') || name.endsWith('-s3alias') || name.endsWith('--ol-s3')) invalid();
}

export function validateKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > objectKeyBytesMax) throw new S3Error('KeyTooLongError', undefined, { extra: { Key: key.slice(0, 64) } });
}

/**
 * Characters a new key may not hold: those no XML 1.0 document can carry even as a reference (NUL,
 * U+FFFE, U+FFFF, unpaired surrogates), so the key could not be named in a DeleteObjects request nor
 * listed. Other C0 controls are allowed, as in S3: listings carry them with encoding-type=url.
 */
const keyForbiddenChars = /[\u0000\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Refuses a key a write would create. Reads and deletes still take any key, so keys stored before stay reachable. */
export function validateNewKey(key: string): void {
  const bad = keyForbiddenChars.exec(key);
  if (!bad) return;
  const codePoint = `U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  throw new S3Error('InvalidArgument', `Object key cannot contain ${codePoint}, which XML cannot carry`, { extra: { ArgumentName: 'key', ArgumentValue: codePoint } });
}

/** Whether the request writes an object under its key: PutObject, CopyObject, CreateMultipartUpload (and the part uploads that follow). */
export function createsKey(method: string | undefined, query: Query): boolean {
  if (method === 'PUT') return !query.has('tagging') && !query.has('retention') && !query.has('legal-hold');
  return method === 'POST' && query.has('uploads');
}
