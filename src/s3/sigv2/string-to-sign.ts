// The SigV2 string to sign, as AWS's "Signing and authenticating REST requests (AWS signature version 2)"
// defines it. Pure functions of the request as sent: no secrets, no clock, no errors.
import type { IncomingHttpHeaders } from 'node:http';
import { percentDecode } from '../sigv4/canonical.js';

/**
 * Query names signed into the CanonicalizedResource: the sub-resources AWS lists, the response-* overrides
 * and `delete`, plus the ones botocore and s3cmd sign beyond that list (they sign against AWS, so AWS signs
 * them too). A name outside this set is not signed, so it must not be added here unless clients sign it.
 */
const signedQueryNames = new Set([
  // The AWS page's list.
  'acl', 'lifecycle', 'location', 'logging', 'notification', 'partNumber', 'policy', 'requestPayment', 'uploadId',
  'uploads', 'versionId', 'versioning', 'versions', 'website', 'delete',
  'response-content-type', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding',
  // What botocore's HmacV1Auth and s3cmd's sign_request_v2 add.
  'accelerate', 'cors', 'defaultObjectAcl', 'torrent', 'tagging', 'restore', 'storageClass', 'replication',
  'analytics', 'metrics', 'inventory', 'select', 'select-type', 'object-lock',
]);

export interface StringToSignInput {
  method: string;
  /** The path as sent, still percent-encoded: AWS signs it literally, escapes and their case included. */
  rawPath: string;
  /** After '?', as sent, '' if none. */
  rawQuery: string;
  /** The bucket the Host header names (virtual-hosted style); undefined for path style. */
  virtualBucket?: string;
  contentMd5: string;
  contentType: string;
  /** The Date header; '' when x-amz-date stands in for it; the Expires parameter of a presigned URL. */
  date: string;
  /** Every x-amz-* header, each name lowercase with all its values in order. */
  amzHeaders: ReadonlyMap<string, readonly string[]>;
  /**
   * For older botocore (Debian's 1.29) only: the query text its request URI template fixes ("uploads",
   * "list-type=2"), which it signs between the path and the sub-resources ("/b/k?uploads?uploads").
   */
  templateQuery?: string;
}

export function stringToSign(input: StringToSignInput): string {
  return `${input.method}\n${input.contentMd5}\n${input.contentType}\n${input.date}\n`
    + canonicalAmzHeaders(input.amzHeaders)
    + canonicalResource(input.rawPath, input.rawQuery, input.virtualBucket, input.templateQuery);
}

/** Lowercase names sorted, each `name:v1,v2\n` with its values trimmed and joined without spaces. */
export function canonicalAmzHeaders(amzHeaders: ReadonlyMap<string, readonly string[]>): string {
  const names = [...amzHeaders.keys()].sort();
  let out = '';
  // Unfolding turns a folded header's line break and indent into one space; values come without them
  // from Node's parser, which refuses obsolete line folding.
  for (const name of names) out += `${name}:${amzHeaders.get(name)!.map((v) => v.trim()).join(',')}\n`;
  return out;
}

/**
 * "/bucket" when the Host header names it, then the undecoded path, then the signed query names sorted by
 * name, each with its decoded value when it has one ("?acl", "?partNumber=2&uploadId=x").
 */
export function canonicalResource(rawPath: string, rawQuery: string, virtualBucket?: string, templateQuery?: string): string {
  const path = rawPath === '' ? '/' : rawPath;
  let resource = virtualBucket === undefined ? path : `/${virtualBucket}${path}`;
  if (templateQuery !== undefined) resource += `?${templateQuery}`;
  const signed: Array<{ name: string; text: string }> = [];
  if (rawQuery !== '') {
    for (const part of rawQuery.split('&')) {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      if (!signedQueryNames.has(name)) continue;
      // "Do not encode these values" when signing: they are signed decoded, and a bare name stays bare.
      signed.push({ name, text: eq < 0 ? name : `${name}=${percentDecode(part.slice(eq + 1), false).toString('utf8')}` });
    }
  }
  if (signed.length > 0) {
    // A stable sort by name alone, as the clients do: repeats of a name keep their order.
    signed.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    resource += `?${signed.map((s) => s.text).join('&')}`;
  }
  return resource;
}

/** The x-amz-* headers of a request, lowercase, each with its values as separate entries. */
export function amzHeadersOf(headersDistinct: NodeJS.Dict<string[]> | IncomingHttpHeaders): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const name in headersDistinct) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-')) continue;
    const value = headersDistinct[name];
    if (value === undefined) continue;
    const values = Array.isArray(value) ? value : [value];
    const existing = out.get(lower);
    if (existing) existing.push(...values);
    else out.set(lower, [...values]);
  }
  return out;
}
