// SigV4 presigned URLs (query auth, UNSIGNED-PAYLOAD) for the load generators. URLs are computed once,
// before a measurement starts, so no signing work competes with the server for the machine's cores.
// Keys here are plain ASCII (bench-made); this is not a general S3 client.
import { createHash, createHmac } from 'node:crypto';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - . _ ~ becomes %XX. */
export function uriEncode(text: string, keepSlash: boolean): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * A presigned URL for `method` on `/bucket/key` (`/bucket` when key is '') at `endpoint` (http://host:port). The signed headers are
 * only `host`, so any client that sends the URL's own host:port (Node, wrk, curl) passes.
 */
export function presignUrl(options: {
  endpoint: string;
  credentials: Credentials;
  method: 'GET' | 'PUT' | 'HEAD' | 'DELETE';
  bucket: string;
  key: string;
  expiresSeconds?: number;
  nowMs?: number;
  /** Further query parameters to sign (e.g. list-type=2), in any order. */
  query?: Record<string, string>;
}): string {
  const { endpoint, credentials, method, bucket, key } = options;
  const url = new URL(endpoint);
  const amzDate = new Date(options.nowMs ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scopeDate = amzDate.slice(0, 8);
  const scope = `${scopeDate}/${credentials.region}/s3/aws4_request`;
  const path = key === '' ? `/${uriEncode(bucket, false)}` : `/${uriEncode(bucket, false)}/${uriEncode(key, true)}`;
  const query: [string, string][] = [
    ['X-Amz-Algorithm', 'AWS4-HMAC-SHA256'],
    ['X-Amz-Credential', `${credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', amzDate],
    ['X-Amz-Expires', String(options.expiresSeconds ?? 6 * 3600)],
    ['X-Amz-SignedHeaders', 'host'],
    ...Object.entries(options.query ?? {}),
  ];
  const canonicalQuery = query
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalRequest = [method, path, canonicalQuery, `host:${url.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, scopeDate), credentials.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', signingKey).update(stringToSign).digest('hex');
  return `${url.origin}${path}?${canonicalQuery}&X-Amz-Signature=${signature}`;
}
