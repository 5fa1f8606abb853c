// SigV4 signing keys and HMAC helpers, with a small bounded cache of derived keys.
// The cache is keyed by the secret string the credential store already holds (a reference, not a copy)
// and then by scope. It used to be keyed by a SHA-256 of the secret, computed on every request; without
// that, authenticating a presigned GET takes 28.8 instead of 33.3 µs (bench/small-get-micro.ts, medians
// of three runs each).
import { createHmac, hash, timingSafeEqual } from 'node:crypto';

/** Secrets whose derived keys are kept; each keeps at most `scopesPerSecretMax` (date, region) keys. */
const secretsCachedMax = 256;
const scopesPerSecretMax = 4;
const signingKeys = new Map<string, Map<string, Buffer>>();

export function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** SHA-256's block size: an HMAC key is padded (or first hashed) to it (RFC 2104). */
const sha256BlockBytes = 64;
const sha256DigestBytes = 32;

/**
 * A key's HMAC-SHA256 pads: `inner` is key XOR ipad followed by room for the message, `outer` key XOR opad
 * followed by room for the inner digest. Each call overwrites the rooms; JavaScript runs one call at a time.
 */
interface HmacPads {
  inner: Buffer;
  outer: Buffer;
}

/** Pads per key Buffer; the derived signing keys come from the cache below, so the same Buffer returns. */
const padsByKey = new WeakMap<Buffer, HmacPads>();

function padsOf(key: Buffer, messageBytesMax: number): HmacPads {
  let pads = padsByKey.get(key);
  if (!pads || pads.inner.length < sha256BlockBytes + messageBytesMax) {
    const block = key.length > sha256BlockBytes ? Buffer.from(hash('sha256', key, 'hex'), 'hex') : key;
    const inner = Buffer.alloc(sha256BlockBytes + Math.max(messageBytesMax, 512), 0x36);
    const outer = Buffer.alloc(sha256BlockBytes + sha256DigestBytes, 0x5c);
    for (let i = 0; i < block.length; i++) {
      inner[i] = inner[i]! ^ block[i]!;
      outer[i] = outer[i]! ^ block[i]!;
    }
    pads = { inner, outer };
    padsByKey.set(key, pads);
  }
  return pads;
}

/**
 * HMAC-SHA256 of `data` under `key` as lowercase hex: createHmac(...).digest('hex') computed as two one-shot
 * hashes over the key's cached pads. A Hmac object costs more to make than the two hashes (7.2 against
 * 4.7 µs in a micro-benchmark, more than a tenth of a header-signed GET's authentication), and hex output
 * of the one-shot hash is cheaper than a Buffer's.
 */
export function hmacHex(key: Buffer, data: string): string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes (a surrogate pair's two are 4), so the message always fits.
  const pads = padsOf(key, data.length * 3);
  const length = pads.inner.write(data, sha256BlockBytes, 'utf8');
  pads.outer.write(hash('sha256', pads.inner.subarray(0, sha256BlockBytes + length), 'hex'), sha256BlockBytes, 'hex');
  return hash('sha256', pads.outer, 'hex');
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

/**
 * Whether the signature a client sent is `expectedHex` (lowercase, from hmacHex), in time that depends on
 * the length only. An uppercase signature does not match, as with signatureMatches.
 */
export function hexSignatureMatches(expectedHex: string, provided: string): boolean {
  if (provided.length !== expectedHex.length) return false;
  let difference = 0;
  for (let i = 0; i < expectedHex.length; i++) difference |= expectedHex.charCodeAt(i) ^ provided.charCodeAt(i);
  return difference === 0;
}
