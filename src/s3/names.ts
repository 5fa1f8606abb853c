// Validation of bucket names and object keys, as AWS documents them.
import { S3Error } from './errors.js';
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
