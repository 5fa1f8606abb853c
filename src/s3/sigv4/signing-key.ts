// SigV4 signing keys and HMAC helpers, with a small bounded cache of derived keys.
// The cache is keyed by a hash of the secret, never the secret itself, so a heap dump of the map
// holds derived day-scoped keys only.
import { createHmac, hash, timingSafeEqual } from 'node:crypto';

const signingKeysCachedMax = 256;
const signingKeys = new Map<string, Buffer>();

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "s3"), "aws4_request"). */
export function signingKey(secret: string, scopeDate: string, region: string): Buffer {
  const cacheKey = `${hash('sha256', secret, 'base64')}/${scopeDate}/${region}`;
  const cached = signingKeys.get(cacheKey);
  if (cached) {
    // Re-insert so the Map's insertion order approximates least-recently-used.
    signingKeys.delete(cacheKey);
    signingKeys.set(cacheKey, cached);
    return cached;
  }
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, scopeDate), region), 's3'), 'aws4_request');
  if (signingKeys.size >= signingKeysCachedMax) {
    const oldest = signingKeys.keys().next();
    if (!oldest.done) signingKeys.delete(oldest.value);
  }
  signingKeys.set(cacheKey, key);
  return key;
}

/** Constant-time comparison of two lowercase hex signatures; a length difference is a mismatch. */
export function signaturesEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
