// AWS Signature Version 4 in the page: header signing for every S3 and admin call, and presigned GET URLs
// for downloads and share links. The secret never leaves the page; only signatures go over the wire.
import { sha256, hmacSha256 } from './sha256.js';

const encoder = new TextEncoder();
// Browsers hide crypto.subtle outside secure contexts (plain http:// to a non-local address).
const subtle = globalThis.isSecureContext ? globalThis.crypto?.subtle : undefined;
export const emptyHash = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Milliseconds to add to the browser's clock to get the server's (from a response's Date header). */
let clockSkewMs = 0;
export function setServerDate(dateHeader) {
  const serverMs = Date.parse(dateHeader ?? '');
  // Date has second resolution: only a skew beyond a few seconds is worth correcting.
  if (Number.isFinite(serverMs) && Math.abs(serverMs - Date.now()) > 5000) clockSkewMs = serverMs - Date.now();
}

function toBytes(data) {
  if (typeof data === 'string') return encoder.encode(data);
  return data instanceof Uint8Array ? data : new Uint8Array(data);
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export async function sha256Hex(data) {
  const bytes = toBytes(data ?? new Uint8Array(0));
  return hex(subtle ? new Uint8Array(await subtle.digest('SHA-256', bytes)) : sha256(bytes));
}

async function hmac(key, message) {
  const bytes = toBytes(message);
  if (!subtle) return hmacSha256(key, bytes);
  const cryptoKey = await subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', cryptoKey, bytes));
}

/** RFC 3986 percent-encoding as SigV4 wants it: everything but unreserved characters. */
export function encodeRfc3986(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The request path of a bucket and key, each segment encoded once (S3 does not double-encode). */
export function pathOf(bucket, key) {
  if (bucket === undefined) return '/';
  const keyPart = key === undefined ? '' : `/${key.split('/').map(encodeRfc3986).join('/')}`;
  return `/${encodeRfc3986(bucket)}${keyPart}`;
}

/** The canonical (sorted, encoded) query string; also used as the URL's query, so both always agree. */
export function queryOf(pairs) {
  return pairs
    .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v ?? '')])
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function timestamps() {
  const amzDate = new Date(Date.now() + clockSkewMs).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  return { amzDate, day: amzDate.slice(0, 8) };
}

async function signature(creds, day, stringToSign) {
  let key = await hmac(encoder.encode(`AWS4${creds.secretAccessKey}`), day);
  for (const part of [creds.region, 's3', 'aws4_request']) key = await hmac(key, part);
  return hex(await hmac(key, stringToSign));
}

async function stringToSign(amzDate, scope, canonicalRequest) {
  return `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${await sha256Hex(canonicalRequest)}`;
}

/**
 * The headers of a signed request: `headers` (lower-case names) plus x-amz-date, x-amz-content-sha256 and
 * Authorization. The browser sends Host itself, as location.host: it is signed as that.
 */
export async function signHeaders({ creds, method, path, query = '', headers = {}, payloadHash = emptyHash }) {
  const { amzDate, day } = timestamps();
  const all = { ...headers, host: location.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate };
  const names = Object.keys(all).sort();
  const canonicalHeaders = names.map((n) => `${n}:${String(all[n]).trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedNames = names.join(';');
  const canonicalRequest = `${method}\n${path}\n${query}\n${canonicalHeaders}\n${signedNames}\n${payloadHash}`;
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const sig = await signature(creds, day, await stringToSign(amzDate, scope, canonicalRequest));
  delete all.host; // a forbidden header name for fetch and XHR
  all.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signedNames}, Signature=${sig}`;
  return all;
}

/** A presigned GET URL valid for `expiresSec` seconds (1 to 604800, as S3 allows); `pairs` are extra query parameters. */
export async function presignGet({ creds, path, pairs = [], expiresSec }) {
  const { amzDate, day } = timestamps();
  const scope = `${day}/${creds.region}/s3/aws4_request`;
  const query = queryOf([
    ...pairs,
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${creds.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(expiresSec)],
    ['X-Amz-SignedHeaders', 'host'],
  ]);
  const canonicalRequest = `GET\n${path}\n${query}\nhost:${location.host}\n\nhost\nUNSIGNED-PAYLOAD`;
  const sig = await signature(creds, day, await stringToSign(amzDate, scope, canonicalRequest));
  return `${location.origin}${path}?${query}&X-Amz-Signature=${sig}`;
}
