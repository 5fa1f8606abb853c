// Authentication: presigned URLs (and their expiry limits), wrong secrets and unknown keys, clock skew,
// anonymous requests, every x-amz-content-sha256 payload mode including signed aws-chunked bodies, and
// virtual-hosted-style addressing.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { AbortMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, ListPartsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw, sdkError, send, sha256Hex, streamingSignedPut } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'auth';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'secret.txt', Body: 'classified' }));
});

function clientWith(credentials: { accessKeyId: string; secretAccessKey: string }): S3Client {
  return new S3Client({ endpoint: server.url, region: server.region, forcePathStyle: true, credentials, maxAttempts: 1 });
}

async function fetchText(url: string, init?: RequestInit): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text(), headers: res.headers };
}

function asRaw(res: { status: number; text: string; headers: Headers }) {
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body: Buffer.from(res.text), text: res.text };
}

test('Presigned URLs - a presigned GET and a presigned PUT work without other credentials', async () => {
  const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), { expiresIn: 300 });
  const got = await fetchText(getUrl);
  assert.equal(got.status, 200);
  assert.equal(got.text, 'classified');
  const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: 'presigned put.txt' }), { expiresIn: 300 });
  const put = await fetchText(putUrl, { method: 'PUT', body: 'uploaded with a URL' });
  assert.equal(put.status, 200);
  const head = await s3.send(new GetObjectCommand({ Bucket, Key: 'presigned put.txt' }));
  assert.equal(await head.Body!.transformToString(), 'uploaded with a URL');
});

test('Presigned URLs - an expired URL gets 403 AccessDenied', async () => {
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), { expiresIn: 60, signingDate: new Date(Date.now() - 3600_000) });
  const res = asRaw(await fetchText(url));
  const body = assertS3Error(res, 403, 'AccessDenied');
  assert.match(body.Message!, /expired/i);
});

test('Presigned URLs - X-Amz-Expires over 604,800 seconds is refused', async () => {
  const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), { expiresIn: 604800 }));
  assert.equal((await fetchText(url.href)).status, 200);
  url.searchParams.set('X-Amz-Expires', '604801');
  const res = asRaw(await fetchText(url.href));
  assertS3Error(res, 400, 'AuthorizationQueryParametersError');
});

test('Presigned URLs - a URL with a changed key or parameter gets SignatureDoesNotMatch', async () => {
  const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), { expiresIn: 300 }));
  url.pathname = url.pathname.replace('secret.txt', 'other.txt');
  assertS3Error(asRaw(await fetchText(url.href)), 403, 'SignatureDoesNotMatch');
  const extra = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: 'secret.txt' }), { expiresIn: 300 }));
  extra.searchParams.set('response-content-type', 'text/html');
  assertS3Error(asRaw(await fetchText(extra.href)), 403, 'SignatureDoesNotMatch');
});

test('Header auth - a wrong secret gets SignatureDoesNotMatch and an unknown key InvalidAccessKeyId', async () => {
  const wrong = clientWith({ accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret' });
  await assert.rejects(wrong.send(new ListBucketsCommand({})), sdkError('SignatureDoesNotMatch', 403));
  await assert.rejects(wrong.send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'y' })), sdkError('SignatureDoesNotMatch', 403));
  wrong.destroy();
  const unknown = clientWith({ accessKeyId: 'AKIAUNKNOWNUNKNOWN00', secretAccessKey: server.secretAccessKey });
  await assert.rejects(unknown.send(new ListBucketsCommand({})), sdkError('InvalidAccessKeyId', 403));
  unknown.destroy();
  const res = await raw(server, { path: `/${Bucket}`, secret: 'wrong' });
  const body = assertS3Error(res, 403, 'SignatureDoesNotMatch');
  assert.ok(!res.text.includes(server.secretAccessKey), 'the secret leaks into the error');
  assert.ok(body.StringToSign, 'AWS includes the string to sign for debugging');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'x' })), sdkError('NotFound', 404));
});

test('Header auth - a request time more than 15 minutes off gets RequestTimeTooSkewed', async () => {
  for (const offsetMs of [-16 * 60_000, 16 * 60_000]) {
    const res = await raw(server, { path: `/${Bucket}`, date: new Date(Date.now() + offsetMs) });
    assertS3Error(res, 403, 'RequestTimeTooSkewed');
  }
  const ok = await raw(server, { path: `/${Bucket}`, date: new Date(Date.now() - 10 * 60_000) });
  assert.equal(ok.status, 200);
});

test('Anonymous requests - get 403 AccessDenied for every operation', async () => {
  const cases = [
    { method: 'GET', path: '/' },
    { method: 'GET', path: `/${Bucket}` },
    { method: 'GET', path: `/${Bucket}/secret.txt` },
    { method: 'PUT', path: `/${Bucket}/anon.txt`, body: 'x' },
    { method: 'DELETE', path: `/${Bucket}/secret.txt` },
    { method: 'PUT', path: '/anon-bucket' },
  ];
  for (const c of cases) {
    const res = await raw(server, { ...c, sign: false });
    assertS3Error(res, 403, 'AccessDenied');
  }
  const head = await raw(server, { method: 'HEAD', path: `/${Bucket}/secret.txt`, sign: false });
  assert.equal(head.status, 403);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'secret.txt' }));
  assert.equal(await got.Body!.transformToString(), 'classified');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'anon.txt' })), sdkError('NotFound', 404));
});

test('Payload modes - a signed payload hash that does not match the body gets XAmzContentSHA256Mismatch', async () => {
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'sha-mismatch'), body: 'actual body', payloadHash: sha256Hex('claimed body') });
  assertS3Error(res, 400, 'XAmzContentSHA256Mismatch');
  await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'sha-mismatch' })), sdkError('NotFound', 404));
  const good = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'sha-match'), body: 'actual body' });
  assert.equal(good.status, 200);
});

test('Payload modes - a large body whose signed hash does not match is refused after it is stored, and nothing of it shows', async () => {
  // Bodies of 256 KiB and more are hashed on the hashing thread, and their SHA-256 is checked only once
  // their block is written: the block is then deleted, and the object and the part stay as they were.
  for (const size of [300 * 1024, 1024 * 1024, 5 * 1024 * 1024]) {
    const Key = `sha-mismatch-${size}`;
    const before = Buffer.alloc(size, 'a');
    assert.equal((await raw(server, { method: 'PUT', path: objectPath(Bucket, Key), body: before })).status, 200);
    const body = Buffer.alloc(size, 'b');
    const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, Key), body, payloadHash: sha256Hex(Buffer.alloc(size, 'c')) });
    assertS3Error(res, 400, 'XAmzContentSHA256Mismatch');
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(before), `the ${size}-byte object is the one stored before`);
  }
  const Key = 'sha-mismatch-part';
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  const part = Buffer.alloc(5 * 1024 * 1024, 'p');
  const query = { partNumber: '1', uploadId: upload.UploadId! };
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, Key), query, body: part, payloadHash: sha256Hex(Buffer.alloc(part.length, 'q')) });
  assertS3Error(res, 400, 'XAmzContentSHA256Mismatch');
  const parts = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId: upload.UploadId! }));
  assert.equal(parts.Parts?.length ?? 0, 0);
  assert.equal((await raw(server, { method: 'PUT', path: objectPath(Bucket, Key), query, body: part })).status, 200);
  await s3.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: upload.UploadId! }));
});

test('Payload modes - UNSIGNED-PAYLOAD is accepted', async () => {
  const res = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'unsigned'), body: 'unsigned body', payloadHash: 'UNSIGNED-PAYLOAD' });
  assert.equal(res.status, 200);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'unsigned' }));
  assert.equal(await got.Body!.transformToString(), 'unsigned body');
});

test('Payload modes - STREAMING-AWS4-HMAC-SHA256-PAYLOAD with valid chunk signatures stores the object', async () => {
  const chunks = [Buffer.alloc(65536, 'a'), Buffer.alloc(65536, 'b'), Buffer.from('tail')];
  const { headers, body } = await streamingSignedPut(server, objectPath(Bucket, 'chunked ok'), chunks);
  const res = await send(server, { method: 'PUT', path: objectPath(Bucket, 'chunked ok'), headers, body });
  assert.equal(res.status, 200, res.text);
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'chunked ok' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(chunks)));
  assert.equal(got.ContentEncoding, undefined, 'aws-chunked is not stored as the object encoding');
});

test('Payload modes - a bad chunk signature gets SignatureDoesNotMatch and stores nothing', async () => {
  for (const bad of [0, 1, 3]) {
    const key = `chunked bad ${bad}`;
    const chunks = [Buffer.alloc(65536, 'a'), Buffer.alloc(65536, 'b'), Buffer.from('tail')];
    const { headers, body } = await streamingSignedPut(server, objectPath(Bucket, key), chunks, { badChunkSignature: bad });
    const res = await send(server, { method: 'PUT', path: objectPath(Bucket, key), headers, body });
    assertS3Error(res, 403, 'SignatureDoesNotMatch');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket, Key: key })), sdkError('NotFound', 404));
  }
});

test('Payload modes - STREAMING-UNSIGNED-PAYLOAD-TRAILER with a correct trailer checksum is accepted', async () => {
  const data = Buffer.from('trailing checksum body');
  const { crc32 } = await import('node:zlib');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data) >>> 0);
  const framed = Buffer.concat([
    Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n0\r\n'), Buffer.from(`x-amz-checksum-crc32:${crc.toString('base64')}\r\n\r\n`),
  ]);
  const res = await raw(server, {
    method: 'PUT', path: objectPath(Bucket, 'trailer-ok'), body: framed, payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
    headers: { 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(data.length), 'x-amz-trailer': 'x-amz-checksum-crc32' },
  });
  assert.equal(res.status, 200, res.text);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'trailer-ok', ChecksumMode: 'ENABLED' }));
  assert.equal(head.ChecksumCRC32, crc.toString('base64'));
  assert.equal(head.ContentLength, data.length);
});

test('Addressing - virtual-hosted-style requests name the bucket in the Host header', async () => {
  const host = `${Bucket}.localhost:${server.port}`;
  const got = await raw(server, { path: '/secret.txt', headers: { host } });
  assert.equal(got.status, 200, got.text);
  assert.equal(got.text, 'classified');
  const list = await raw(server, { path: '/', query: { 'list-type': '2' }, headers: { host } });
  assert.equal(list.status, 200);
  assert.match(list.text, /<Key>secret\.txt<\/Key>/);
});
