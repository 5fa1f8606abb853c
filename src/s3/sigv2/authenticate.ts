// SigV2 request authentication, server side: `Authorization: AWS AKID:signature` and presigned URLs
// (AWSAccessKeyId, Signature, Expires). It decides who signed the request; the body is checked later, as
// it streams, by the payload decoder. Secrets never reach an error message or a log.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { clockSkewMsMax } from '../../constants.js';
import { S3Error } from '../errors.js';
import { lookupSecret, parsePayloadMode, singleHeader, type AuthConfig, type PayloadMode } from '../sigv4/authenticate.js';
import type { QueryPair } from '../sigv4/canonical.js';
import { amzHeadersOf, stringToSign, type StringToSignInput } from './string-to-sign.js';

export interface SigV2Request {
  method: string;
  rawPath: string; // as sent, percent-encoded, no query
  rawQuery: string; // after '?', as sent, '' if none
  query: readonly QueryPair[];
  headers: IncomingHttpHeaders;
  /** Every header with each of its values apart (IncomingMessage.headersDistinct): Node joins repeats with ", ". */
  headersDistinct: NodeJS.Dict<string[]>;
  /** The bucket the Host header names, for virtual-hosted-style requests. */
  virtualBucket?: string;
}

export interface SigV2Context {
  signatureVersion: 2;
  accessKeyId: string;
  payload: PayloadMode;
  presigned: boolean;
}

/** The query parameters of a SigV2 presigned URL. */
export const sigv2QueryNames = ['AWSAccessKeyId', 'Signature', 'Expires'] as const;

export function isSigV2Header(authorization: string): boolean {
  return authorization.startsWith('AWS ');
}

// ---- Authorization header ----------------------------------------------------------------------

export function authenticateHeaderV2(req: SigV2Request, authorization: string, config: AuthConfig): SigV2Context {
  const credentials = authorization.slice('AWS '.length);
  const colon = credentials.indexOf(':');
  if (colon <= 0 || credentials.includes(' ')) {
    throw new S3Error('InvalidArgument', 'AWS authorization header is invalid.  Expected AwsAccessKeyId:signature', { extra: { ArgumentName: 'Authorization' } });
  }
  const accessKeyId = credentials.slice(0, colon);
  const provided = credentials.slice(colon + 1);
  const secret = lookupSecret(config, accessKeyId);
  // x-amz-date stands in for Date when present, even when Date is there too; a bad one is not overlooked.
  const amzDate = singleHeader(req.headers, 'x-amz-date');
  const dateText = amzDate ?? singleHeader(req.headers, 'date');
  const requestMs = dateText === undefined ? undefined : parseHttpDate(dateText);
  if (requestMs === undefined) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
  checkSkew(dateText!, requestMs, config.nowMs());
  const payload = payloadMode(req.headers);
  const amzHeaders = amzHeadersOf(req.headersDistinct);
  const input: StringToSignInput = {
    method: req.method, rawPath: req.rawPath, rawQuery: req.rawQuery, virtualBucket: req.virtualBucket,
    contentMd5: singleHeader(req.headers, 'content-md5') ?? '', contentType: singleHeader(req.headers, 'content-type') ?? '',
    date: amzDate === undefined ? dateText! : '', amzHeaders,
  };
  const candidates = readingsOf(input);
  if (amzDate !== undefined) {
    // AWS's own worked example (the Delete one) signs x-amz-date's value in the Date position and leaves it
    // out of the x-amz-* lines; its rule says an empty Date and the x-amz-date line. Both sign the same value.
    const others = new Map(amzHeaders);
    others.delete('x-amz-date');
    candidates.push(...readingsOf({ ...input, date: amzDate, amzHeaders: others }));
  }
  verify(secret, accessKeyId, provided, candidates);
  return { signatureVersion: 2, accessKeyId, payload, presigned: false };
}

/**
 * Epoch ms of an HTTP date (RFC 1123, RFC 850 or asctime, as RFC 2616 allows; AWS's examples write
 * "+0000" for GMT); undefined for anything else or a time before 1970, which AWS refuses as AccessDenied.
 */
export function parseHttpDate(text: string): number | undefined {
  // Date.parse reads almost anything ("1" is a date); a time of day is the least an HTTP date has.
  if (text.length > 64 || !/\b\d{1,2}:\d{2}:\d{2}\b/.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

function checkSkew(dateText: string, requestMs: number, nowMs: number): void {
  if (Math.abs(nowMs - requestMs) <= clockSkewMsMax) return;
  throw new S3Error('RequestTimeTooSkewed', undefined, {
    extra: { RequestTime: dateText, ServerTime: new Date(nowMs).toISOString(), MaxAllowedSkewMilliseconds: String(clockSkewMsMax) },
  });
}

// ---- Presigned URL -------------------------------------------------------------------------------

export function authenticatePresignedV2(req: SigV2Request, config: AuthConfig): SigV2Context {
  const param = (name: string): string | undefined => req.query.find(([n]) => n === name)?.[1];
  const [accessKeyId, signature, expires] = sigv2QueryNames.map(param);
  if (!accessKeyId || signature === undefined || expires === undefined) {
    throw new S3Error('AccessDenied', 'Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters');
  }
  if (!/^\d{1,12}$/.test(expires)) throw new S3Error('AccessDenied', `Invalid date (should be seconds since epoch): ${expires.slice(0, 64)}`);
  const secret = lookupSecret(config, accessKeyId);
  const nowMs = config.nowMs();
  const expiresMs = Number(expires) * 1000;
  if (nowMs > expiresMs) {
    throw new S3Error('AccessDenied', 'Request has expired', { extra: { Expires: new Date(expiresMs).toISOString(), ServerTime: new Date(nowMs).toISOString() } });
  }
  // botocore moves Content-Type, Content-MD5 and x-amz-* headers into the query of the URLs it presigns;
  // a header the request carries counts as well, so nobody can add one to a presigned request unsigned.
  const amzHeaders = amzHeadersOf(req.headersDistinct);
  for (const [name, value] of req.query) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-')) continue;
    const values = amzHeaders.get(lower);
    if (values) values.push(value);
    else amzHeaders.set(lower, [value]);
  }
  const input: StringToSignInput = {
    method: req.method, rawPath: req.rawPath, rawQuery: req.rawQuery, virtualBucket: req.virtualBucket,
    contentMd5: singleHeader(req.headers, 'content-md5') ?? param('content-md5') ?? param('Content-MD5') ?? '',
    contentType: singleHeader(req.headers, 'content-type') ?? param('content-type') ?? param('Content-Type') ?? '',
    date: expires, amzHeaders,
  };
  // A '+' left unescaped in the URL decodes as a space; base64 has no spaces, so it was a '+'.
  verify(secret, accessKeyId, signature.replaceAll(' ', '+'), readingsOf(input));
  return { signatureVersion: 2, accessKeyId, payload: payloadMode(req.headers), presigned: true };
}

// ---- Shared ----------------------------------------------------------------------------------------

/**
 * How the body is checked: SigV2 signs no body, but an x-amz-content-sha256 header (signed, as every
 * x-amz-* header is) still names a hash to check or an aws-chunked body with unsigned trailers. Chunk
 * signatures need a SigV4 seed signature, which a SigV2 request has none of.
 */
function payloadMode(headers: IncomingHttpHeaders): PayloadMode {
  const value = singleHeader(headers, 'x-amz-content-sha256');
  if (value === undefined) return { kind: 'unsigned' };
  const mode = parsePayloadMode(value);
  if (mode.kind === 'streaming-signed' || mode.kind === 'streaming-signed-trailer') {
    throw new S3Error('InvalidRequest', `x-amz-content-sha256 "${value}" needs a request signed with AWS4-HMAC-SHA256`);
  }
  return mode;
}

/**
 * The readings of a request that real clients sign, AWS's first. A request to a bucket alone is read both
 * as "/bucket" and "/bucket/": botocore signs the slash on a path-style one (as a virtual-hosted request has
 * it; AWS accepts it), and older botocore leaves it off a virtual-hosted one with a query. Older botocore (Debian's 1.29, boto/botocore#2962) signs the query of
 * its URI template again before the sub-resources ("/b/k?uploads?uploads", "/b?list-type=2"), which AWS
 * refuses; it is accepted here, or that botocore could not upload in parts or list with SigV2. Non-ASCII
 * x-amz-* values are also read as UTF-8: Node hands header bytes over as latin1, and s3cmd sends UTF-8
 * bytes of the text it signs. Every reading signs all of the request AWS's does, so none lets a
 * signature cover another request.
 */
function readingsOf(input: StringToSignInput): StringToSignInput[] {
  const readings = [input];
  if (input.virtualBucket === undefined && /^\/[^/]+$/.test(input.rawPath)) readings.push({ ...input, rawPath: `${input.rawPath}/` });
  if (input.virtualBucket !== undefined && (input.rawPath === '/' || input.rawPath === '')) {
    readings.push({ ...input, virtualBucket: undefined, rawPath: `/${input.virtualBucket}` });
  }
  const utf8 = utf8AmzHeaders(input.amzHeaders);
  if (utf8) for (const reading of readings.slice()) readings.push({ ...reading, amzHeaders: utf8 });
  if (input.rawQuery !== '') {
    const amp = input.rawQuery.indexOf('&');
    const templateQuery = amp < 0 ? input.rawQuery : input.rawQuery.slice(0, amp);
    for (const reading of readings.slice()) readings.push({ ...reading, templateQuery });
  }
  return readings;
}

/** The x-amz-* values re-read as UTF-8 bytes, or undefined when all are ASCII. */
function utf8AmzHeaders(amzHeaders: ReadonlyMap<string, readonly string[]>): Map<string, string[]> | undefined {
  let out: Map<string, string[]> | undefined;
  for (const [name, values] of amzHeaders) {
    if (!values.some((v) => /[^\x00-\x7f]/.test(v))) continue;
    out ??= new Map([...amzHeaders].map(([n, v]) => [n, [...v]]));
    out.set(name, values.map((v) => Buffer.from(v, 'latin1').toString('utf8')));
  }
  return out;
}

function signatureOf(secret: string, text: string): Buffer {
  return createHmac('sha1', secret).update(text, 'utf8').digest();
}

const base64Sha1 = /^[A-Za-z0-9+/]{27}=$/;

/** Constant-time comparison of an HMAC-SHA1 digest with the base64 signature a client sent. */
export function signatureMatchesV2(expected: Buffer, provided: string): boolean {
  if (!base64Sha1.test(provided)) return false;
  return timingSafeEqual(expected, Buffer.from(provided, 'base64'));
}

/** Passes when the signature matches one reading of the request; AWS's error names the first reading. */
function verify(secret: string, accessKeyId: string, provided: string, candidates: readonly StringToSignInput[]): void {
  for (const candidate of candidates) {
    if (signatureMatchesV2(signatureOf(secret, stringToSign(candidate)), provided)) return;
  }
  const text = stringToSign(candidates[0]!);
  // AWS returns the string to sign (and its bytes) so clients can debug; neither holds a secret.
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    extra: {
      AWSAccessKeyId: accessKeyId, StringToSign: text, SignatureProvided: provided.slice(0, 128),
      StringToSignBytes: [...Buffer.from(text, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' '),
    },
  });
}
