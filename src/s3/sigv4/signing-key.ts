// SigV4 signing keys and HMAC helpers, with a small bounded cache of derived keys.
// The cache is keyed by the secret string the credential store already holds (a reference, not a copy)
// and then by scope. It used to be keyed by a SHA-256 of the secret, computed on every request; without
// that, authenticating a presigned GET takes 28.8 instead of 33.3 µs (bench/small-get-micro.ts, medians
// of three runs each).
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Secrets whose derived keys are kept; each keeps at most `scopesPerSecretMax` (date, region) keys. */
const secretsCachedMax = 256;
const scopesPerSecretMax = 4;
const signingKeys = new Map<string, Map<string, Buffer>>();

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), "s3"), "aws4_request"). */
export function signingKey(secret: string, scopeDate: string, region: string): Buffer {
  const scope = `${scopeDate}/${region}`;
  let scopes = signingKeys.get(secret);
  const cached = scopes?.get(scope);
  if (cached) return cached;
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, scopeDate), region), 's3'), 'aws4_request');
  if (!scopes) {
    if (signingKeys.size >= secretsCachedMax) signingKeys.delete(signingKeys.keys().next().value!);
    scopes = new Map();
    signingKeys.set(secret, scopes);
  }
  if (scopes.size >= scopesPerSecretMax) scopes.delete(scopes.keys().next().value!);
  scopes.set(scope, key);
  return key;
}

/**
 * Constant-time comparison of an HMAC-SHA256 digest with the lowercase hex signature a client sent. The
 * digest stays bytes: hex-encoding it and copying both strings into Buffers cost more than the compare.
 */
export function signatureMatches(expected: Buffer, provided: string): boolean {
  // Buffer.from(hex) would also take uppercase digits and stop at the first bad one, so check the form first.
  if (provided.length !== expected.length * 2 || !lowercaseHex.test(provided)) return false;
  return timingSafeEqual(expected, Buffer.from(provided, 'hex'));
}

const lowercaseHex = /^[0-9a-f]*$/;
