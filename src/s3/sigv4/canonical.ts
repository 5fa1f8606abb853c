// The SigV4 canonical request and string to sign, encoded exactly as S3 does it.
// Pure functions of the request as sent; no secrets, no clock, no errors beyond bad input shape.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const sigv4Algorithm = 'AWS4-HMAC-SHA256';
export const emptySha256Hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const hexDigits = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39)
    || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e; // - . _ ~
}

/** AWS UriEncode over raw bytes: everything but A-Z a-z 0-9 - . _ ~ (and '/' if kept) becomes %XX. */
export function uriEncodeBytes(bytes: Buffer, keepSlash: boolean): string {
  let out = '';
  for (const b of bytes) {
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
    else out += `%${hexDigits[b >> 4]}${hexDigits[b & 0xf]}`;
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes to bytes (not a string: a %XX sequence may be half a UTF-8 character).
 * A '%' not followed by two hex digits stays literal, as Go's and AWS's lenient parsers do.
 */
export function percentDecode(s: string, plusIsSpace: boolean): Buffer {
  const src = Buffer.from(s, 'utf8');
  const out = Buffer.alloc(src.length);
  let n = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x25 && i + 2 < src.length && hexValue(src[i + 1]!) >= 0 && hexValue(src[i + 2]!) >= 0) {
      out[n++] = (hexValue(src[i + 1]!) << 4) | hexValue(src[i + 2]!);
      i += 2;
    } else {
      out[n++] = plusIsSpace && c === 0x2b ? 0x20 : c;
    }
  }
  return out.subarray(0, n);
}

/**
 * S3 canonical URI: each path segment decoded once and re-encoded once. S3 does not double-encode
 * (other services do) and does not normalise "." or ".." segments. Decoding first makes clients
 * that leave e.g. "!" or "(" unescaped on the wire still match; working per segment keeps an
 * escaped slash (%2F) escaped, as the client signed it.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  return rawPath.split('/').map((segment) => uriEncodeBytes(percentDecode(segment, false), false)).join('/');
}

export type QueryPair = readonly [name: string, value: string];

/**
 * Splits a raw query into decoded pairs, in order. '+' means space, as in the form encoding that
 * Go and Java clients send (and sign as %20).
 */
export function parseQuery(rawQuery: string): QueryPair[] {
  const pairs: QueryPair[] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([percentDecode(name, true).toString('utf8'), percentDecode(value, true).toString('utf8')]);
  }
  return pairs;
}

/** Canonical query: each name and value UriEncoded, sorted by encoded name then encoded value. */
export function canonicalQuery(rawQuery: string, omitName?: string): string {
  const encoded: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = uriEncodeBytes(percentDecode(eq < 0 ? part : part.slice(0, eq), true), false);
    const value = eq < 0 ? '' : uriEncodeBytes(percentDecode(part.slice(eq + 1), true), false);
    if (omitName !== undefined && name === omitName) continue;
    encoded.push([name, value]);
  }
  // Encoded strings are pure ASCII, so code-unit order is byte order, as the spec requires.
  encoded.sort(([n1, v1], [n2, v2]) => (n1 < n2 ? -1 : n1 > n2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0));
  return encoded.map(([n, v]) => `${n}=${v}`).join('&');
}

/** A header's canonical value: trimmed, runs of spaces collapsed; repeats joined with ','. */
export function canonicalHeaderValue(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  const values = Array.isArray(value) ? value : [value];
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

export interface CanonicalRequestInput {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: IncomingHttpHeaders;
  signedHeaders: readonly string[]; // lowercase, sorted, as given in SignedHeaders
  payloadHash: string;
  omitQueryName?: string; // X-Amz-Signature for presigned URLs
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  const headerLines = input.signedHeaders.map((name) => `${name}:${canonicalHeaderValue(input.headers[name])}\n`).join('');
  return [
    input.method,
    canonicalUri(input.rawPath),
    canonicalQuery(input.rawQuery, input.omitQueryName),
    headerLines,
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
}

export function credentialScope(scopeDate: string, region: string): string {
  return `${scopeDate}/${region}/s3/aws4_request`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${sigv4Algorithm}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}
