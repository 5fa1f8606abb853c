// Header SigV4 (Authorization, signed x-amz-content-sha256) for the load generators, as an SDK signs a body
// it hashed. Computed once per URL before a phase, so signing does not compete with the servers for the
// cores. Bench-made ASCII keys and queries only; not a general S3 client.
import { createHash, createHmac } from 'node:crypto';
import { Agent } from 'node:http';
import { send } from './load.js';
import { uriEncode, type Credentials } from './presign.js';

export const emptySha256Hex = createHash('sha256').digest('hex');

const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The query in SigV4's canonical form: each name and value encoded, sorted by name then value. */
function canonicalQuery(params: URLSearchParams): string {
  return [...params]
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/**
 * The headers that sign `method url` with `payloadSha256Hex` (the body's SHA-256; emptySha256Hex for no
 * body): x-amz-date, x-amz-content-sha256 and authorization. Host is signed but not returned: HTTP
 * clients send the URL's own host:port, which is what is signed here. The URL's path must already be
 * percent-encoded as SigV4 wants it (bench keys need none).
 */
export function signedHeaders(options: { method: string; url: string; credentials: Credentials; payloadSha256Hex: string; nowMs?: number }): Record<string, string> {
  const { accessKeyId, secretAccessKey, region } = options.credentials;
  const url = new URL(options.url);
  const amzDate = new Date(options.nowMs ?? Date.now()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const scope = `${amzDate.slice(0, 8)}/${region}/s3/aws4_request`;
  const signed: Record<string, string> = { host: url.host, 'x-amz-content-sha256': options.payloadSha256Hex, 'x-amz-date': amzDate };
  const names = Object.keys(signed).sort();
  const canonical = [
    options.method,
    url.pathname,
    canonicalQuery(url.searchParams),
    names.map((n) => `${n}:${signed[n]}\n`).join(''),
    names.join(';'),
    options.payloadSha256Hex,
  ].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretAccessKey}`, amzDate.slice(0, 8)), region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    'x-amz-content-sha256': options.payloadSha256Hex,
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`,
  };
}

/** Creates `bucket` and PUTs each object into it with header-signed payloads, as an SDK would; throws on any other answer than 200. */
export async function fillBucket(endpoint: string, credentials: Credentials, bucket: string, objects: readonly { key: string; body: Buffer }[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const sign = (path: string, hash: string) => signedHeaders({ method: 'PUT', url: `${endpoint}${path}`, credentials, payloadSha256Hex: hash });
  try {
    const made = await send(agent, 'PUT', `${endpoint}/${bucket}`, undefined, undefined, sign(`/${bucket}`, emptySha256Hex));
    if (made.status !== 200) throw new Error(`CreateBucket answered ${made.status}`);
    for (const { key, body } of objects) {
      const path = `/${bucket}/${key}`;
      const put = await send(agent, 'PUT', `${endpoint}${path}`, body, undefined, sign(path, createHash('sha256').update(body).digest('hex')));
      if (put.status !== 200) throw new Error(`PUT ${path} answered ${put.status}`);
    }
  } finally {
    agent.destroy();
  }
}
