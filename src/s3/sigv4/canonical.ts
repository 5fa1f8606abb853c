// The SigV4 canonical request and string to sign, encoded exactly as S3 does it.
// Pure functions of the request as sent; no secrets, no clock, no errors beyond bad input shape.
import { hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const sigv4Algorithm = 'AWS4-HMAC-SHA256';
export const emptySha256Hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export function sha256Hex(data: string | Buffer): string {
  // The one-shot form skips building a Hash object: about half the cost for a canonical request.
  return hash('sha256', data, 'hex');
}

const hexDigits = '0123456789ABCDEF';

/** 1 for the bytes UriEncode leaves alone: A-Z a-z 0-9 - . _ ~ */
const unreservedBytes = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') unreservedBytes[c.charCodeAt(0)] = 1;

/** AWS UriEncode over raw bytes: everything but A-Z a-z 0-9 - . _ ~ (and '/' if kept) becomes %XX. */
export function uriEncodeBytes(bytes: Buffer, keepSlash: boolean): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (unreservedBytes[b] === 1 || (keepSlash && b === 0x2f)) out += String.fromCharCode(b);
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
  const out = Buffer.allocUnsafe(src.length);
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
 * uriEncodeBytes(percentDecode(s, plusIsSpace), false) computed on the string, for ASCII input; undefined
 * when `s` holds a non-ASCII character (that needs UTF-8 encoding first, so the byte path takes it).
 * Both steps map one input byte or %XX escape to its own output, so doing them in one pass gives the
 * same bytes; building no Buffers made authenticating a presigned GET 2.4x cheaper (bench/small-get-micro.ts).
 * A literal '/' stays when `slashIsLiteral` (the path's segment separator); an escaped one stays escaped.
 */
function canonicalAscii(s: string, plusIsSpace: boolean, slashIsLiteral: boolean): string | undefined {
  let out = '';
  let copied = 0; // s[copied, i) is unreserved and goes out as it is
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return undefined;
    if (unreservedBytes[c] === 1 || (slashIsLiteral && c === 0x2f)) continue;
    let b = c;
    let end = i + 1;
    if (c === 0x25 && i + 2 < s.length) {
      const high = hexValue(s.charCodeAt(i + 1));
      const low = hexValue(s.charCodeAt(i + 2));
      if (high >= 0 && low >= 0) {
        b = (high << 4) | low;
        end = i + 3;
      }
    } else if (c === 0x2b && plusIsSpace) {
      b = 0x20;
    }
    out += s.slice(copied, i);
    out += unreservedBytes[b] === 1 ? String.fromCharCode(b) : `%${hexDigits[b >> 4]}${hexDigits[b & 0xf]}`;
    i = end - 1;
    copied = end;
  }
  return copied === 0 ? s : out + s.slice(copied);
}

/** A query name or value as the canonical query has it: decoded once ('+' is a space), encoded once. */
export function canonicalQueryComponent(raw: string): string {
  return canonicalAscii(raw, true, false) ?? uriEncodeBytes(percentDecode(raw, true), false);
}

/**
 * percentDecode(s, true) as a string, for ASCII input that decodes to ASCII; undefined otherwise (bytes
 * from 0x80 up must be read as UTF-8 together, so the byte path takes them).
 */
function decodeAscii(s: string): string | undefined {
  let out = '';
  let copied = 0; // s[copied, i) goes out as it is
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return undefined;
    if (c === 0x2b) {
      out += `${s.slice(copied, i)} `;
      copied = i + 1;
    } else if (c === 0x25 && i + 2 < s.length) {
      const high = hexValue(s.charCodeAt(i + 1));
      const low = hexValue(s.charCodeAt(i + 2));
      if (high < 0 || low < 0) continue;
      if (high >= 8) return undefined;
      out += s.slice(copied, i) + String.fromCharCode((high << 4) | low);
      i += 2;
      copied = i + 1;
    }
  }
  return copied === 0 ? s : out + s.slice(copied);
}

/** A query name or value decoded ('+' is a space); invalid UTF-8 becomes U+FFFD. */
export function decodeQueryComponent(raw: string): string {
  return decodeAscii(raw) ?? percentDecode(raw, true).toString('utf8');
}

/**
 * S3 canonical URI: each path segment decoded once and re-encoded once. S3 does not double-encode
 * (other services do) and does not normalise "." or ".." segments. Decoding first makes clients
 * that leave e.g. "!" or "(" unescaped on the wire still match; working per segment keeps an
 * escaped slash (%2F) escaped, as the client signed it.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  return canonicalAscii(rawPath, false, true)
    ?? rawPath.split('/').map((segment) => uriEncodeBytes(percentDecode(segment, false), false)).join('/');
}

export type QueryPair = readonly [name: string, value: string];

/**
 * Splits a raw query into decoded pairs, in order. '+' means space, as in the form encoding that
 * Go and Java clients send (and sign as %20).
 */
export function parseQuery(rawQuery: string): QueryPair[] {
  const pairs: QueryPair[] = [];
  if (rawQuery === '') return pairs;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    pairs.push([decodeQueryComponent(name), decodeQueryComponent(value)]);
  }
  return pairs;
}

/** Canonical query: each name and value UriEncoded, sorted by encoded name then encoded value. */
export function canonicalQuery(rawQuery: string, omitName?: string): string {
  if (rawQuery === '') return '';
  const encoded: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = canonicalQueryComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : canonicalQueryComponent(part.slice(eq + 1));
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
  if (typeof value === 'string' && !needsCanonicalSpaces(value)) return value;
  const values = Array.isArray(value) ? value : [value];
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

/** Whether a value has whitespace to trim or collapse; most (dates, hashes, hosts) have none. */
function needsCanonicalSpaces(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x85 || c === 0xa0 || c >= 0x1680) return true; // anything String.trim or \s may touch
  }
  return false;
}

/**
 * The signed headers with non-ASCII values re-read as UTF-8, or undefined when all are ASCII. Node hands
 * header values over as latin1, one character per wire byte; a client that sent its text as UTF-8 bytes
 * (botocore, and the raw bytes AWS signs) signed the decoded text, not one character per byte.
 */
export function utf8HeaderValues(headers: IncomingHttpHeaders, signedHeaders: readonly string[]): IncomingHttpHeaders | undefined {
  let out: IncomingHttpHeaders | undefined;
  for (const name of signedHeaders) {
    const value = headers[name];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    if (!values.some((v) => /[^\x00-\x7f]/.test(v))) continue;
    out ??= { ...headers };
    const decoded = values.map((v) => Buffer.from(v, 'latin1').toString('utf8'));
    out[name] = Array.isArray(value) ? decoded : decoded[0];
  }
  return out;
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
  // One string built in place: the arrays of a map-and-join cost a small GET more than the text itself.
  let text = `${input.method}\n${canonicalUri(input.rawPath)}\n${canonicalQuery(input.rawQuery, input.omitQueryName)}\n`;
  for (const name of input.signedHeaders) text += `${name}:${canonicalHeaderValue(input.headers[name])}\n`;
  return `${text}\n${input.signedHeaders.join(';')}\n${input.payloadHash}`;
}

export function credentialScope(scopeDate: string, region: string): string {
  return `${scopeDate}/${region}/s3/aws4_request`;
}

export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `${sigv4Algorithm}\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}
