// SigV2 through the HTTP endpoint with raw requests: virtual-hosted and path style, the wrong secret,
// skew, expiry, --sigv2 off, and malformed V2 input that must never get a 500. Real clients signing V2
// (boto3, s3cmd, curl on presigned URLs) are in test/clients/sigv2-clients.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { startTessera, type TesseraProcess } from '../helpers/tessera.js';
import { assertS3Error, send, type RawResponse } from './raw-http.js';

let server: TesseraProcess;
let refusing: TesseraProcess;
const bucket = 'sigv2-raw';

before(async () => {
  [server, refusing] = await Promise.all([startTessera(), startTessera({ env: { TESSERA_SIGV2: 'off' } })]);
});

after(async () => {
  await Promise.all([server?.cleanup(), refusing?.cleanup()]);
});

interface V2Request {
  method: string;
  path: string; // as sent
  query?: string;
  headers?: Record<string, string>;
  body?: Buffer;
  /** The canonicalized resource to sign; default: the path, with the bucket first when `host` names it. */
  resource?: string;
  secret?: string;
  dateMs?: number;
}

/** Written from AWS's SigV2 page, apart from the server's code. */
function stringToSignOf(method: string, headers: Record<string, string>, date: string, resource: string): string {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const amz = Object.keys(lower).filter((k) => k.startsWith('x-amz-')).sort().map((k) => `${k}:${lower[k]!.trim()}\n`).join('');
  return `${method}\n${lower['content-md5'] ?? ''}\n${lower['content-type'] ?? ''}\n${date}\n${amz}${resource}`;
}

function hmacSha1(secret: string, text: string): string {
  return createHmac('sha1', secret).update(text, 'utf8').digest('base64');
}

function sendV2(target: TesseraProcess, req: V2Request): Promise<RawResponse> {
  const date = new Date(req.dateMs ?? Date.now()).toUTCString();
  const headers: Record<string, string> = { host: `127.0.0.1:${target.port}`, date, ...req.headers };
  const resource = req.resource ?? req.path;
  const signature = hmacSha1(req.secret ?? target.secretAccessKey, stringToSignOf(req.method, headers, headers['x-amz-date'] ? '' : date, resource));
  headers.authorization = `AWS ${target.accessKeyId}:${signature}`;
  if (req.body) headers['content-length'] = String(req.body.length);
  return send(target, { method: req.method, path: req.query ? `${req.path}?${req.query}` : req.path, headers, ...(req.body ? { body: req.body } : {}) });
}

function presignV2(target: TesseraProcess, method: string, path: string, expiresSeconds: number, resource = path): string {
  const signature = hmacSha1(target.secretAccessKey, `${method}\n\n\n${expiresSeconds}\n${resource}`);
  return `${path}?AWSAccessKeyId=${target.accessKeyId}&Expires=${expiresSeconds}&Signature=${encodeURIComponent(signature)}`;
}

test('SigV2 raw - path-style and virtual-hosted-style requests sign the bucket into the resource', async () => {
  assert.equal((await sendV2(server, { method: 'PUT', path: `/${bucket}` })).status, 200);
  const put = await sendV2(server, { method: 'PUT', path: `/${bucket}/a%20b.txt`, body: Buffer.from('v2 body'), headers: { 'content-type': 'text/plain', 'x-amz-meta-who': 'raw' } });
  assert.equal(put.status, 200, put.text);
  const virtualHost = `${bucket}.localhost:${server.port}`;
  const get = await sendV2(server, { method: 'GET', path: '/a%20b.txt', headers: { host: virtualHost }, resource: `/${bucket}/a%20b.txt` });
  assert.equal(get.status, 200, get.text);
  assert.equal(get.text, 'v2 body');
  assert.equal(get.headers['x-amz-meta-who'], 'raw');
  // Virtual-hosted, signed without the bucket: the resource is not the one the server computes.
  const unsigned = await sendV2(server, { method: 'GET', path: '/a%20b.txt', headers: { host: virtualHost } });
  const error = assertS3Error(unsigned, 403, 'SignatureDoesNotMatch');
  assert.match(error.StringToSign!, new RegExp(`\\n/${bucket}/a%20b\\.txt$`));
});

test('SigV2 raw - wrong secret is 403 SignatureDoesNotMatch with the StringToSign', async () => {
  const res = await sendV2(server, { method: 'GET', path: `/${bucket}/a%20b.txt`, secret: 'wrong-secret-wrong-secret-wrong-secret00' });
  const error = assertS3Error(res, 403, 'SignatureDoesNotMatch');
  assert.match(error.StringToSign!, /^GET\n\n\n.+ GMT\n\/sigv2-raw\/a%20b\.txt$/);
  assert.equal(error.AWSAccessKeyId, server.accessKeyId);
});

test('SigV2 raw - a clock 16 minutes off is 403 RequestTimeTooSkewed', async () => {
  const res = await sendV2(server, { method: 'GET', path: `/${bucket}/a%20b.txt`, dateMs: Date.now() - 16 * 60_000 });
  assertS3Error(res, 403, 'RequestTimeTooSkewed');
});

test('SigV2 raw - presigned GET works until Expires, then 403 AccessDenied "Request has expired"', async () => {
  const path = `/${bucket}/a%20b.txt`;
  const ok = await send(server, { method: 'GET', path: presignV2(server, 'GET', path, Math.floor(Date.now() / 1000) + 60), headers: {} });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.text, 'v2 body');
  const expired = await send(server, { method: 'GET', path: presignV2(server, 'GET', path, Math.floor(Date.now() / 1000) - 1), headers: {} });
  const error = assertS3Error(expired, 403, 'AccessDenied');
  assert.equal(error.Message, 'Request has expired');
  // A presigned PUT: Expires, AWSAccessKeyId and Signature are accepted on a write.
  const putPath = `/${bucket}/presigned.txt`;
  const put = await send(server, { method: 'PUT', path: presignV2(server, 'PUT', putPath, Math.floor(Date.now() / 1000) + 60), headers: { 'content-length': '3' }, body: Buffer.from('put') });
  assert.equal(put.status, 200, put.text);
});

test('SigV2 raw - with TESSERA_SIGV2=off (--sigv2 off), header and presigned SigV2 are 400 InvalidRequest, SigV4 still works', async () => {
  const header = await sendV2(refusing, { method: 'GET', path: '/' });
  const error = assertS3Error(header, 400, 'InvalidRequest');
  assert.match(error.Message!, /Please use AWS4-HMAC-SHA256/);
  const presigned = await send(refusing, { method: 'GET', path: presignV2(refusing, 'GET', '/', Math.floor(Date.now() / 1000) + 60), headers: {} });
  assertS3Error(presigned, 400, 'InvalidRequest');
  const buckets = await refusing.client().send(new ListBucketsCommand({}));
  assert.ok(Array.isArray(buckets.Buckets));
});

test('SigV2 raw - malformed SigV2 input gets 4xx answers, never a 500', async () => {
  const path = `/${bucket}/a%20b.txt`;
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<{ headers: Record<string, string>; query?: string }> = [
    { headers: { authorization: 'AWS ' } },
    { headers: { authorization: 'AWS :' } },
    { headers: { authorization: `AWS ${server.accessKeyId}:` } },
    { headers: { authorization: `AWS ${server.accessKeyId}:a:b`, date: new Date().toUTCString() } },
    { headers: { authorization: `AWS ${server.accessKeyId}:${'A'.repeat(27)}=` } },
    { headers: { authorization: `AWS ${server.accessKeyId}:${'A'.repeat(27)}=`, date: 'garbage' } },
    { headers: { authorization: `AWS ${server.accessKeyId}:${'A'.repeat(27)}=`, 'x-amz-date': 'Tue, 07 Jul 9999 21:53:04 GMT' } },
    { headers: { authorization: `AWS ${server.accessKeyId}:${'A'.repeat(27)}=`, date: new Date().toUTCString(), 'x-amz-meta-x': 'caf\u00e9' } },
    { headers: {}, query: `AWSAccessKeyId=${server.accessKeyId}&Expires=${now + 60}&Signature=%%%` },
    { headers: {}, query: `AWSAccessKeyId=${server.accessKeyId}&Expires=99999999999999999999&Signature=x` },
    { headers: {}, query: `AWSAccessKeyId=${server.accessKeyId}&Expires=${now + 60}` },
    { headers: {}, query: `AWSAccessKeyId=&Expires=${now + 60}&Signature=x` },
    { headers: {}, query: `AWSAccessKeyId=NOSUCHKEY&Expires=${now + 60}&Signature=x` },
    { headers: {}, query: `Signature=x&AWSAccessKeyId=${server.accessKeyId}&Expires=${now + 60}&X-Amz-Signature=0` },
  ];
  for (const c of cases) {
    const res = await send(server, { method: 'GET', path: c.query ? `${path}?${c.query}` : path, headers: c.headers });
    assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(c)} gave ${res.status}: ${res.text}`);
    assert.ok(res.text.includes('<Code>'), res.text);
  }
});
