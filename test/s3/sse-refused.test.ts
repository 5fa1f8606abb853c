// Server-side encryption is not served yet (issue 16): a write that asks for it is refused with 501, never
// stored in plaintext while the client believes it encrypted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { assertS3Error, objectPath, raw } from './raw-http.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'sse-refused';
await s3.send(new CreateBucketCommand({ Bucket }));
await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'plain' }));

test('SSE - a PUT asking for SSE-S3, SSE-KMS or SSE-C gets 501 NotImplemented and stores nothing', async () => {
  const asks: Record<string, string>[] = [
    { 'x-amz-server-side-encryption': 'AES256' },
    { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'testkey-1' },
    { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': Buffer.alloc(32, 1).toString('base64') },
  ];
  for (const [i, headers] of asks.entries()) {
    assertS3Error(await raw(server, { method: 'PUT', path: objectPath(Bucket, `enc${i}`), headers, body: 'secret' }), 501, 'NotImplemented');
    assert.equal((await raw(server, { method: 'HEAD', path: objectPath(Bucket, `enc${i}`) })).status, 404);
  }
});

test('SSE - CreateMultipartUpload and CopyObject asking for encryption get 501 NotImplemented', async () => {
  assertS3Error(await raw(server, { method: 'POST', path: objectPath(Bucket, 'mp'), query: { uploads: null }, headers: { 'x-amz-server-side-encryption': 'AES256' } }), 501, 'NotImplemented');
  const copy = await raw(server, { method: 'PUT', path: objectPath(Bucket, 'copy'), headers: { 'x-amz-copy-source': `/${Bucket}/plain`, 'x-amz-server-side-encryption': 'AES256' } });
  assertS3Error(copy, 501, 'NotImplemented');
  assert.equal((await raw(server, { method: 'HEAD', path: objectPath(Bucket, 'copy') })).status, 404);
});
