// Server-side encryption requests that AWS refuses, over plain HTTP: an unknown algorithm, KMS headers
// without aws:kms, SSE-C over a connection without TLS, x-amz-server-side-encryption on a GET. Each gets
// AWS's 400 and stores nothing; a valid SSE-S3 request over HTTP is served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'sse-refused';
await s3.send(new CreateBucketCommand({ Bucket }));
await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'plain' }));
const customerKey = Buffer.alloc(32, 1);
const customer = {
  'x-amz-server-side-encryption-customer-algorithm': 'AES256',
  'x-amz-server-side-encryption-customer-key': customerKey.toString('base64'),
  'x-amz-server-side-encryption-customer-key-md5': createHash('md5').update(customerKey).digest('base64'),
};

test('SSE refused - an unknown algorithm, KMS headers without aws:kms, or SSE-S3 with SSE-C headers get 400 InvalidArgument and store nothing', async () => {
  const asks: Record<string, string>[] = [
    { 'x-amz-server-side-encryption': 'AES128' },
    { 'x-amz-server-side-encryption': 'aws:kms:dsse' },
    { 'x-amz-server-side-encryption-aws-kms-key-id': 'testkey-1' },
    { 'x-amz-server-side-encryption': 'AES256', 'x-amz-server-side-encryption-aws-kms-key-id': 'testkey-1' },
    { 'x-amz-server-side-encryption': 'AES256', ...customer },
  ];
  for (const [i, headers] of asks.entries()) {
    assertS3Error(await raw(server, { method: 'PUT', path: objectPath(Bucket, `enc${i}`), headers, body: 'secret' }), 400, 'InvalidArgument');
    assert.equal((await raw(server, { method: 'HEAD', path: objectPath(Bucket, `enc${i}`) })).status, 404);
  }
  assertS3Error(await raw(server, { method: 'POST', path: objectPath(Bucket, 'mp'), query: { uploads: null }, headers: { 'x-amz-server-side-encryption': 'AES' } }), 400, 'InvalidArgument');
});

test('SSE refused - SSE-C over plain HTTP gets 400 InvalidRequest on PUT, GET, CreateMultipartUpload and copy', async () => {
  const put = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'c'), headers: customer, body: 'secret' });
  assertS3Error(put, 400, 'InvalidRequest');
  assert.match(put.body.toString(), /secure connection/);
  assert.equal((await raw(server, { method: 'HEAD', path: objectPath(Bucket, 'c') })).status, 404);
  assertS3Error(await raw(server, { method: 'GET', path: objectPath(Bucket, 'plain'), headers: customer }), 400, 'InvalidRequest');
  assertS3Error(await raw(server, { method: 'POST', path: objectPath(Bucket, 'mp'), query: { uploads: null }, headers: customer }), 400, 'InvalidRequest');
  assertS3Error(await raw(server, { method: 'PUT', path: objectPath(Bucket, 'copy'), headers: { 'x-amz-copy-source': `/${Bucket}/plain`, ...customer } }), 400, 'InvalidRequest');
});

test('SSE refused - a GET or HEAD with x-amz-server-side-encryption gets 400; an SSE-S3 PUT over HTTP is served', async () => {
  const put = await raw(server, { method: 'PUT', path: objectPath(Bucket, 's3'), headers: { 'x-amz-server-side-encryption': 'AES256' }, body: 'secret' });
  assert.equal(put.status, 200);
  assert.equal(put.headers['x-amz-server-side-encryption'], 'AES256');
  assertS3Error(await raw(server, { method: 'GET', path: objectPath(Bucket, 's3'), headers: { 'x-amz-server-side-encryption': 'AES256' } }), 400, 'InvalidArgument');
  const got = await raw(server, { method: 'GET', path: objectPath(Bucket, 's3') });
  assert.equal(got.body.toString(), 'secret');
  assert.equal(got.headers['x-amz-server-side-encryption'], 'AES256');
});

test('SSE refused - a GET, HEAD or copy with any one SSE-C header, in any letter case, gets 400 InvalidRequest over plain HTTP', async () => {
  // Each header alone: a look-up that missed one of the three names would serve the object instead.
  for (const name of ['X-Amz-Server-Side-Encryption-Customer-Algorithm', 'x-amz-server-side-encryption-customer-KEY', 'X-AMZ-SERVER-SIDE-ENCRYPTION-CUSTOMER-KEY-MD5']) {
    const value = customer[name.toLowerCase() as keyof typeof customer];
    assertS3Error(await raw(server, { method: 'GET', path: objectPath(Bucket, 'plain'), headers: { [name]: value } }), 400, 'InvalidRequest');
    assert.equal((await raw(server, { method: 'HEAD', path: objectPath(Bucket, 'plain'), headers: { [name]: value } })).status, 400, name);
  }
  for (const name of ['X-Amz-Copy-Source-Server-Side-Encryption-Customer-Algorithm', 'x-amz-copy-source-server-side-encryption-customer-Key', 'X-AMZ-COPY-SOURCE-SERVER-SIDE-ENCRYPTION-CUSTOMER-KEY-MD5']) {
    const value = customer[name.toLowerCase().replace('copy-source-', '') as keyof typeof customer];
    assertS3Error(await raw(server, { method: 'PUT', path: objectPath(Bucket, 'copy'), headers: { 'x-amz-copy-source': `/${Bucket}/plain`, [name]: value } }), 400, 'InvalidRequest');
  }
  assert.equal((await raw(server, { method: 'HEAD', path: objectPath(Bucket, 'copy') })).status, 404);
  assert.equal((await raw(server, { method: 'GET', path: objectPath(Bucket, 'plain') })).status, 200);
});
