// CORS (issue 15): Put/Get/DeleteBucketCors and their validation, preflight OPTIONS answered per rule
// without authentication (raw HTTP, as a browser sends it), and the CORS headers on actual requests with
// an Origin: signed, presigned, POST form, and error answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteBucketCorsCommand, GetBucketCorsCommand, PutBucketCorsCommand, PutObjectCommand, GetObjectCommand, type CORSRule } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, md5Base64, raw, sdkError, send, type RawResponse } from './raw-http.js';
import { formBody, postForm, signedFields } from './post-form.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'browser-app';
const rules: CORSRule[] = [
  { ID: 'uploads', AllowedOrigins: ['https://*.example.com'], AllowedMethods: ['PUT', 'POST'], AllowedHeaders: ['content-type', 'x-amz-*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 },
  { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'], AllowedHeaders: [], ExposeHeaders: [] },
];
await s3.send(new CreateBucketCommand({ Bucket }));
await s3.send(new CreateBucketCommand({ Bucket: 'no-cors' }));
await s3.send(new PutObjectCommand({ Bucket, Key: 'page.html', Body: '<p>hi</p>' }));

function preflight(path: string, headers: Record<string, string>): Promise<RawResponse> {
  return send(server, { method: 'OPTIONS', path, headers: { host: `127.0.0.1:${server.port}`, ...headers } });
}

function putCorsXml(bucket: string, xml: string): Promise<RawResponse> {
  return raw(server, { method: 'PUT', path: `/${bucket}`, query: { cors: null }, body: xml, headers: { 'content-md5': md5Base64(xml) } });
}

test('PutBucketCors - the rules are stored and read back; DeleteBucketCors removes them (NoSuchCORSConfiguration)', async () => {
  await assert.rejects(s3.send(new GetBucketCorsCommand({ Bucket })), sdkError('NoSuchCORSConfiguration', 404));
  await s3.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: rules } }));
  const got = await s3.send(new GetBucketCorsCommand({ Bucket }));
  assert.deepEqual(got.CORSRules?.[0], rules[0]);
  assert.deepEqual(got.CORSRules?.[1]?.AllowedOrigins, ['*']);
  await s3.send(new PutBucketCorsCommand({ Bucket: 'no-cors', CORSConfiguration: { CORSRules: rules } }));
  const deleted = await s3.send(new DeleteBucketCorsCommand({ Bucket: 'no-cors' }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  await assert.rejects(s3.send(new GetBucketCorsCommand({ Bucket: 'no-cors' })), sdkError('NoSuchCORSConfiguration', 404));
});

test('PutBucketCors - an unsupported method, two wildcards, 101 rules or no Content-MD5 are InvalidRequest; a wrong one is BadDigest; a rule without an origin is MalformedXML', async () => {
  const rule = (inner: string) => `<CORSRule>${inner}</CORSRule>`;
  const doc = (inner: string) => `<CORSConfiguration>${inner}</CORSConfiguration>`;
  assertS3Error(await putCorsXml(Bucket, doc(rule('<AllowedMethod>PATCH</AllowedMethod><AllowedOrigin>*</AllowedOrigin>'))), 400, 'InvalidRequest');
  assertS3Error(await putCorsXml(Bucket, doc(rule('<AllowedMethod>GET</AllowedMethod><AllowedOrigin>https://*.*.com</AllowedOrigin>'))), 400, 'InvalidRequest');
  assertS3Error(await putCorsXml(Bucket, doc(rule('<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin><AllowedHeader>x-*-*</AllowedHeader>'))), 400, 'InvalidRequest');
  assertS3Error(await putCorsXml(Bucket, doc(rule('<AllowedMethod>GET</AllowedMethod>'))), 400, 'MalformedXML');
  const many = doc(rule('<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>').repeat(101));
  assertS3Error(await putCorsXml(Bucket, many), 400, 'InvalidRequest');
  const one = doc(rule('<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>'));
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { cors: null }, body: one }), 400, 'InvalidRequest');
  assertS3Error(await raw(server, { method: 'PUT', path: `/${Bucket}`, query: { cors: null }, body: one, headers: { 'content-md5': md5Base64('other') } }), 400, 'BadDigest');
  assert.equal((await putCorsXml(Bucket, doc(rule('<AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin>').repeat(100)))).status, 200);
  await s3.send(new PutBucketCorsCommand({ Bucket, CORSConfiguration: { CORSRules: rules } }));
});

test('Preflight OPTIONS - a matching rule answers 200 with its Access-Control headers, unauthenticated, on bucket and object paths', async () => {
  const res = await preflight(`/${Bucket}/uploads/photo.jpg`, {
    origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'Content-Type, x-amz-meta-owner',
  });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(res.headers['access-control-allow-methods'], 'PUT, POST');
  assert.equal(res.headers['access-control-allow-headers'], 'content-type, x-amz-meta-owner');
  assert.equal(res.headers['access-control-expose-headers'], 'ETag');
  assert.equal(res.headers['access-control-max-age'], '600');
  assert.equal(res.headers['access-control-allow-credentials'], 'true');
  const any = await preflight(`/${Bucket}`, { origin: 'http://elsewhere.test', 'access-control-request-method': 'GET' });
  assert.equal(any.status, 200);
  assert.equal(any.headers['access-control-allow-origin'], '*');
  assert.equal(any.headers['access-control-allow-credentials'], undefined);
});

test('Preflight OPTIONS - on a presigned URL the query is ignored and the rule decides', async () => {
  const url = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'up.bin' }), { expiresIn: 300 }));
  const res = await preflight(url.pathname + url.search, { origin: 'https://app.example.com', 'access-control-request-method': 'PUT' });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
});

test('Preflight OPTIONS - no rule matching origin, method or headers is 403 "CORSResponse: This CORS request is not allowed"', async () => {
  const cases: Record<string, string>[] = [
    { origin: 'https://example.com', 'access-control-request-method': 'PUT' },
    { origin: 'https://evil.test', 'access-control-request-method': 'PUT' },
    { origin: 'https://app.example.com', 'access-control-request-method': 'DELETE' },
    { origin: 'https://app.example.com', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization' },
  ];
  for (const headers of cases) {
    const res = await preflight(`/${Bucket}/k`, headers);
    const err = assertS3Error(res, 403, 'AccessForbidden');
    assert.match(err.Message ?? '', /^CORSResponse: This CORS request is not allowed/);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  }
});

test('Preflight OPTIONS - no Origin or no Access-Control-Request-Method is 400; a bucket without CORS is 403; a missing bucket is 404', async () => {
  assertS3Error(await preflight(`/${Bucket}/k`, { 'access-control-request-method': 'GET' }), 400, 'BadRequest');
  assertS3Error(await preflight(`/${Bucket}/k`, { origin: 'https://app.example.com' }), 400, 'BadRequest');
  const off = assertS3Error(await preflight('/no-cors/k', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' }), 403, 'AccessForbidden');
  assert.match(off.Message ?? '', /CORS is not enabled for this bucket/);
  assertS3Error(await preflight('/no-such-bucket/k', { origin: 'https://app.example.com', 'access-control-request-method': 'GET' }), 404, 'NoSuchBucket');
});

test('CORS headers - a signed GET with an Origin gets them, and so do its error answers (NoSuchKey, a bad signature)', async () => {
  const ok = await raw(server, { path: `/${Bucket}/page.html`, headers: { origin: 'http://reader.test' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], '*');
  assert.equal(ok.headers['access-control-allow-methods'], 'GET, HEAD');
  assert.match(String(ok.headers.vary), /Origin/);
  const missing = await raw(server, { path: `/${Bucket}/nope`, headers: { origin: 'http://reader.test' } });
  assertS3Error(missing, 404, 'NoSuchKey');
  assert.equal(missing.headers['access-control-allow-origin'], '*');
  const forged = await raw(server, { path: `/${Bucket}/page.html`, headers: { origin: 'http://reader.test' }, secret: 'wrong/secret' });
  assertS3Error(forged, 403, 'SignatureDoesNotMatch');
  assert.equal(forged.headers['access-control-allow-origin'], '*');
  const noOrigin = await raw(server, { path: `/${Bucket}/page.html` });
  assert.equal(noOrigin.headers['access-control-allow-origin'], undefined);
  const wrongMethod = await raw(server, { method: 'DELETE', path: `/${Bucket}/nothing`, headers: { origin: 'http://reader.test' } });
  assert.equal(wrongMethod.headers['access-control-allow-origin'], undefined, 'no rule allows DELETE from that origin');
});

test('CORS headers - a presigned PUT and a POST form from an allowed origin get them', async () => {
  const url = new URL(await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'presigned.txt' }), { expiresIn: 300 }));
  const put = await send(server, { method: 'PUT', path: url.pathname + url.search, headers: { host: url.host, origin: 'https://app.example.com', 'content-length': '2' }, body: Buffer.from('hi') });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(put.headers['access-control-expose-headers'], 'ETag');
  const fields = signedFields(server, [{ bucket: Bucket }, { key: 'form.txt' }]);
  const post = await postForm(server, Bucket, formBody([['key', 'form.txt'], ...fields, ['file', 'from a form', 'form.txt']]), { origin: 'https://app.example.com' });
  assert.equal(post.status, 204, post.text);
  assert.equal(post.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'form.txt' }))).Body?.transformToString(), 'from a form');
});
