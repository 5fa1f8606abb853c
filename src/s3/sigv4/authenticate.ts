// SigV4 request authentication, server side: the Authorization header form and presigned URLs.
// It decides who signed the request and how the payload is to be checked; the body itself is
// checked later, as it streams, by payload.ts. Secrets never reach an error message or a log.
import type { IncomingHttpHeaders } from 'node:http';
import { clockSkewMsMax, presignExpiresSecondsMax } from '../../constants.js';
import { S3Error } from '../errors.js';
import { canonicalRequest, credentialScope, emptySha256Hex, parseQuery, sigv4Algorithm, stringToSign, utf8HeaderValues, type QueryPair } from './canonical.js';
import { hexSignatureMatches, hmacHex, signingKey } from './signing-key.js';

export interface SignedRequest {
  method: string;
  rawPath: string; // path exactly as sent, percent-encoded, no query
  rawQuery: string; // after '?', as sent, '' if none
  /** rawQuery already decoded by parseQuery, when the caller has it. */
  query?: readonly QueryPair[];
  headers: IncomingHttpHeaders;
}

export type PayloadMode =
  | { kind: 'unsigned' } // UNSIGNED-PAYLOAD (also presigned URLs)
  | { kind: 'signed'; sha256Hex: string } // a literal hash: verify body against it
  | { kind: 'streaming-signed' } // STREAMING-AWS4-HMAC-SHA256-PAYLOAD
  | { kind: 'streaming-signed-trailer' } // STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER
  | { kind: 'streaming-unsigned-trailer' }; // STREAMING-UNSIGNED-PAYLOAD-TRAILER

export interface AuthContext {
  signatureVersion: 4;
  accessKeyId: string;
  region: string;
  scopeDate: string; // YYYYMMDD
  amzDate: string; // YYYYMMDDTHHMMSSZ
  signingKey: Buffer;
  seedSignature: string;
  payload: PayloadMode;
  presigned: boolean;
}

export interface AuthConfig {
  region: string;
  secretFor(accessKeyId: string): string | undefined;
  nowMs(): number;
}

export type AuthForm = 'header' | 'query';

export const unsupportedMechanism = 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.';

/** Returns null for an anonymous request; throws S3Error for any signed request that fails. */
export function authenticate(req: SignedRequest, config: AuthConfig): AuthContext | null {
  const authorization = singleHeader(req.headers, 'authorization');
  const query = req.query ?? parseQuery(req.rawQuery);
  const queryAuth = query.some(([name]) => name === 'X-Amz-Signature' || name === 'X-Amz-Algorithm' || name === 'X-Amz-Credential');
  if (authorization !== undefined && queryAuth) {
    throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', { extra: { ArgumentName: 'Authorization' } });
  }
  if (authorization !== undefined) return authenticateHeader(req, authorization, config);
  if (queryAuth) return authenticatePresigned(req, query, config);
  if (query.some(([name]) => name === 'AWSAccessKeyId')) throw new S3Error('InvalidRequest', unsupportedMechanism);
  return null;
}

// ---- Authorization header ----------------------------------------------------------------------

interface AuthorizationFields { credential: string; signedHeaders: string; signature: string }

function parseAuthorization(value: string): AuthorizationFields {
  if (value.startsWith('AWS ') || value.startsWith('AWS4-ECDSA-P256-SHA256')) throw new S3Error('InvalidRequest', unsupportedMechanism);
  if (!value.startsWith(`${sigv4Algorithm} `)) {
    // AWS echoes the header as ArgumentValue; we do not, since it may carry a bearer secret.
    throw new S3Error('InvalidArgument', 'Unsupported Authorization Type', { extra: { ArgumentName: 'Authorization' } });
  }
  // Comma-separated name=value parts; a later repeat of a name wins. Scanned in place, without the array
  // and map a split would build on every signed request.
  let credential: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  for (let start = sigv4Algorithm.length + 1; start <= value.length;) {
    const comma = value.indexOf(',', start);
    const end = comma < 0 ? value.length : comma;
    const eq = value.indexOf('=', start);
    if (eq > start && eq < end) {
      const name = value.slice(start, eq).trim();
      if (name === 'Credential') credential = value.slice(eq + 1, end).trim();
      else if (name === 'SignedHeaders') signedHeaders = value.slice(eq + 1, end).trim();
      else if (name === 'Signature') signature = value.slice(eq + 1, end).trim();
    }
    start = end + 1;
  }
  if (credential === undefined || signedHeaders === undefined || signature === undefined) {
    throw malformed('header', 'the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  return { credential, signedHeaders, signature };
}

function authenticateHeader(req: SignedRequest, authorization: string, config: AuthConfig): AuthContext {
  const fields = parseAuthorization(authorization);
  const credential = parseCredential('header', fields.credential, config.region);
  const secret = lookupSecret(config, credential.accessKeyId);
  const amzDate = headerAmzDate(req.headers);
  if (amzDate.slice(0, 8) !== credential.scopeDate) throw malformed('header', 'Invalid credential date. Date is not the same as X-Amz-Date.');
  checkSkew(amzDate, config.nowMs());
  const signedHeaders = parseSignedHeaders('header', fields.signedHeaders);
  requireSigned(req.headers, signedHeaders);
  const payloadHash = singleHeader(req.headers, 'x-amz-content-sha256');
  if (payloadHash === undefined) throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  const payload = parsePayloadMode(payloadHash);
  const key = signingKey(secret, credential.scopeDate, config.region);
  verifySignature(req, { signedHeaders, payloadHash, amzDate, credential, region: config.region, key, provided: fields.signature });
  return {
    signatureVersion: 4, accessKeyId: credential.accessKeyId, region: config.region, scopeDate: credential.scopeDate, amzDate,
    signingKey: key, seedSignature: fields.signature, payload, presigned: false,
  };
}

/** X-Amz-Date wins over Date; both are allowed by the spec. Returns the ISO 8601 basic form. */
function headerAmzDate(headers: IncomingHttpHeaders): string {
  const amzDate = singleHeader(headers, 'x-amz-date');
  if (amzDate !== undefined) {
    if (parseAmzDate(amzDate) !== undefined) return amzDate;
  } else {
    const httpDate = singleHeader(headers, 'date');
    const ms = httpDate === undefined ? NaN : Date.parse(httpDate);
    if (Number.isFinite(ms)) return formatAmzDate(ms);
  }
  throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');
}

function checkSkew(amzDate: string, nowMs: number): void {
  const requestMs = parseAmzDate(amzDate)!;
  if (Math.abs(nowMs - requestMs) <= clockSkewMsMax) return;
  throw new S3Error('RequestTimeTooSkewed', undefined, {
    extra: { RequestTime: amzDate, ServerTime: new Date(nowMs).toISOString(), MaxAllowedSkewMilliseconds: String(clockSkewMsMax) },
  });
}

/**
 * Host and every x-amz-* header must be signed, else whoever relays the request could add one
 * (say x-amz-copy-source, turning a presigned PUT into a copy). `exempt` names harmless ones.
 */
function requireSigned(headers: IncomingHttpHeaders, signedHeaders: readonly string[], exempt: readonly string[] = []): void {
  let unsigned: string[] | undefined;
  for (const name in headers) {
    if (name.startsWith('x-amz-') && !signedHeaders.includes(name) && !exempt.includes(name)) (unsigned ??= []).push(name);
  }
  if (!signedHeaders.includes('host')) (unsigned ??= []).unshift('host');
  if (unsigned === undefined) return;
  throw new S3Error('AccessDenied', 'There were headers present in the request which were not signed', { extra: { HeadersNotSigned: unsigned.join(', ') } });
}

// ---- Presigned URL -------------------------------------------------------------------------------

const presignParams = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Expires'] as const;

function authenticatePresigned(req: SignedRequest, query: readonly QueryPair[], config: AuthConfig): AuthContext {
  const param = (name: string): string | undefined => query.find(([n]) => n === name)?.[1];
  const [algorithm, credentialText, signature, amzDate, signedHeadersText, expiresText] = presignParams.map(param);
  if (!algorithm || !credentialText || !signature || !amzDate || !signedHeadersText || expiresText === undefined) {
    throw queryError('Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.');
  }
  if (algorithm !== sigv4Algorithm) throw queryError('X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"');
  const expiresSeconds = parseExpires(expiresText);
  const requestMs = parseAmzDate(amzDate);
  if (requestMs === undefined) throw queryError('X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd\'T\'HHmmss\'Z\'"');
  const credential = parseCredential('query', credentialText, config.region);
  if (amzDate.slice(0, 8) !== credential.scopeDate) {
    throw queryError(`Invalid credential date "${credential.scopeDate}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`);
  }
  const secret = lookupSecret(config, credential.accessKeyId);
  checkPresignWindow(requestMs, expiresSeconds, config.nowMs());
  const signedHeaders = parseSignedHeaders('query', signedHeadersText);
  // An unsigned x-amz-content-sha256 only tells us how to check the caller's own body.
  requireSigned(req.headers, signedHeaders, ['x-amz-content-sha256']);
  // The SDK presigners sign UNSIGNED-PAYLOAD unless the client pinned a hash in the query or a header.
  const payloadHash = param('X-Amz-Content-Sha256') ?? singleHeader(req.headers, 'x-amz-content-sha256') ?? 'UNSIGNED-PAYLOAD';
  const payload = parsePayloadMode(payloadHash);
  const key = signingKey(secret, credential.scopeDate, config.region);
  verifySignature(req, { signedHeaders, payloadHash, amzDate, credential, region: config.region, key, provided: signature, omitQueryName: 'X-Amz-Signature' });
  return {
    signatureVersion: 4, accessKeyId: credential.accessKeyId, region: config.region, scopeDate: credential.scopeDate, amzDate,
    signingKey: key, seedSignature: signature, payload, presigned: true,
  };
}

function parseExpires(text: string): number {
  if (/^-\d+$/.test(text)) throw queryError('X-Amz-Expires must be non-negative');
  if (!/^\d{1,10}$/.test(text)) throw queryError('X-Amz-Expires should be a number');
  const seconds = Number(text);
  if (seconds > presignExpiresSecondsMax) {
    throw queryError(`X-Amz-Expires must be less than a week (in seconds) that is; the maximum expires is ${presignExpiresSecondsMax}`);
  }
  return seconds;
}

function checkPresignWindow(requestMs: number, expiresSeconds: number, nowMs: number): void {
  if (requestMs - nowMs > clockSkewMsMax) throw new S3Error('AccessDenied', 'Request is not valid yet');
  const expiresMs = requestMs + expiresSeconds * 1000;
  if (nowMs <= expiresMs) return;
  throw new S3Error('AccessDenied', 'Request has expired', {
    extra: { 'X-Amz-Expires': String(expiresSeconds), Expires: new Date(expiresMs).toISOString(), ServerTime: new Date(nowMs).toISOString() },
  });
}

// ---- Shared ----------------------------------------------------------------------------------------

export interface Credential { accessKeyId: string; scopeDate: string }

/** Credential = AKID/YYYYMMDD/region/s3/aws4_request, with AWS's wording for each wrong part. */
export function parseCredential(form: AuthForm, text: string, region: string): Credential {
  const parts = text.split('/');
  const [accessKeyId, scopeDate, scopeRegion, service, terminal] = parts;
  if (parts.length !== 5 || !accessKeyId || !scopeDate || !/^\d{8}$/.test(scopeDate) || !scopeRegion) {
    throw malformed(form, 'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".');
  }
  if (scopeRegion !== region) {
    throw malformed(form, `the region '${scopeRegion}' is wrong; expecting '${region}'`, { Region: region });
  }
  if (service !== 's3') throw malformed(form, `incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminal !== 'aws4_request') throw malformed(form, `incorrect terminal "${terminal}". This endpoint uses "aws4_request".`);
  return { accessKeyId, scopeDate };
}

function parseSignedHeaders(form: AuthForm, text: string): string[] {
  const names = text.split(';');
  if (names.some((n) => n === '' || n !== n.toLowerCase())) throw malformed(form, 'the SignedHeaders component is mal-formed.');
  return names;
}

/** The secret of a known access key; InvalidAccessKeyId otherwise. SigV2 resolves keys through it too. */
export function lookupSecret(config: AuthConfig, accessKeyId: string): string {
  const secret = config.secretFor(accessKeyId);
  if (secret === undefined) throw new S3Error('InvalidAccessKeyId', undefined, { extra: { AWSAccessKeyId: accessKeyId } });
  return secret;
}

interface SignatureCheck {
  signedHeaders: readonly string[];
  payloadHash: string;
  amzDate: string;
  credential: Credential;
  region: string;
  key: Buffer;
  provided: string;
  omitQueryName?: string;
}

function verifySignature(req: SignedRequest, check: SignatureCheck): void {
  const scope = credentialScope(check.credential.scopeDate, check.region);
  const canonicalOf = (headers: IncomingHttpHeaders): string => canonicalRequest({
    method: req.method, rawPath: req.rawPath, rawQuery: req.rawQuery, headers,
    signedHeaders: check.signedHeaders, payloadHash: check.payloadHash, omitQueryName: check.omitQueryName,
  });
  let canonical = canonicalOf(req.headers);
  let toSign = stringToSign(check.amzDate, scope, canonical);
  if (hexSignatureMatches(hmacHex(check.key, toSign), check.provided)) return;
  // Non-ASCII header values are signed two ways. The JS SDK sends each character as one latin1 byte and
  // signs the text's UTF-8, which the reading above matches; botocore sends UTF-8 bytes and signs their
  // text, as AWS signs the bytes, which this reading matches.
  const utf8Headers = utf8HeaderValues(req.headers, check.signedHeaders);
  if (utf8Headers) {
    canonical = canonicalOf(utf8Headers);
    toSign = stringToSign(check.amzDate, scope, canonical);
    if (hexSignatureMatches(hmacHex(check.key, toSign), check.provided)) return;
  }
  // AWS returns the canonical request and string to sign so clients can debug; neither holds a secret.
  throw new S3Error('SignatureDoesNotMatch', undefined, {
    extra: { AWSAccessKeyId: check.credential.accessKeyId, StringToSign: toSign, SignatureProvided: check.provided, CanonicalRequest: canonical },
  });
}

/** Maps an x-amz-content-sha256 value to how the payload must be checked. */
export function parsePayloadMode(value: string): PayloadMode {
  switch (value) {
    case 'UNSIGNED-PAYLOAD': return { kind: 'unsigned' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': return { kind: 'streaming-signed' };
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': return { kind: 'streaming-signed-trailer' };
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER': return { kind: 'streaming-unsigned-trailer' };
  }
  if (value === emptySha256Hex) return { kind: 'signed', sha256Hex: value }; // every signed GET, HEAD and DELETE
  if (/^[0-9a-fA-F]{64}$/.test(value)) return { kind: 'signed', sha256Hex: value.toLowerCase() };
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', {
    extra: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value.slice(0, 128) },
  });
}

// The last date parsed: a client's requests within one second carry the same X-Amz-Date, and a header-signed
// request's is read twice (its form, then its skew).
let lastAmzDate = '';
let lastAmzDateMs: number | undefined;

/** Parses YYYYMMDDTHHMMSSZ to epoch ms; undefined unless it is a real calendar time. */
export function parseAmzDate(text: string): number | undefined {
  if (text === lastAmzDate) return lastAmzDateMs;
  const ms = parseAmzDateFields(text);
  lastAmzDate = text;
  lastAmzDateMs = ms;
  return ms;
}

function parseAmzDateFields(text: string): number | undefined {
  if (text.length !== 16 || text[8] !== 'T' || text[15] !== 'Z') return undefined;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 4, 2);
  const day = digitsAt(text, 6, 2);
  const hour = digitsAt(text, 9, 2);
  const minute = digitsAt(text, 11, 2);
  const second = digitsAt(text, 13, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  // Date.UTC rolls over out-of-range fields (and reads years 0-99 as 1900-1999); reading the fields back
  // refuses both, as a format-and-compare would, without building strings.
  const date = new Date(ms);
  const exact = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
    && date.getUTCHours() === hour && date.getUTCMinutes() === minute && date.getUTCSeconds() === second;
  return exact ? ms : undefined;
}

/** The number in text[start, start + length) when every character there is an ASCII digit, else -1. */
function digitsAt(text: string, start: number, length: number): number {
  let n = 0;
  for (let i = start; i < start + length; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

export function formatAmzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function malformed(form: AuthForm, detail: string, extra: Record<string, string> = {}): S3Error {
  if (form === 'header') return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${detail}`, { extra });
  return new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${detail}`, { extra });
}

function queryError(message: string): S3Error {
  return new S3Error('AuthorizationQueryParametersError', message);
}
