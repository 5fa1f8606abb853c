// SSE-KMS with keys made through the admin API, bucket default encryption, and the store-wide
// --default-encryption: headers as AWS answers them, range reads and multipart, copies to and from KMS
// objects, KMS errors (unknown key, disabled key until enabled again).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand, GetObjectCommand, HeadObjectCommand, PutBucketEncryptionCommand, PutObjectCommand, UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startTessera, startTesseraForFile, withClient } from '../helpers/tessera.js';
import { assertS3Error, raw } from './raw-http.js';
import { bytesOf, rejects } from './sse-helpers.js';

const { server, s3 } = await startTesseraForFile();
const Bucket = 'sse-kms';
await s3.send(new CreateBucketCommand({ Bucket }));
const admin = (path: string, body?: unknown) => raw(server, { method: 'POST', path: `/_tessera/admin/${path}`, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
for (const keyId of ['testkey-1', 'testkey-2']) assert.equal((await admin('kms/keys', { keyId })).status, 200);

test('SSE-KMS - a PUT under a named key, with a context and a bucket key, answers and reads back by range with its headers', async () => {
  const body = randomBytes(300_000);
  const context = Buffer.from(JSON.stringify({ project: 'p1' })).toString('base64');
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'k1', Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'testkey-1', SSEKMSEncryptionContext: context, BucketKeyEnabled: true }));
  assert.equal(put.ServerSideEncryption, 'aws:kms');
  assert.equal(put.SSEKMSKeyId, 'testkey-1');
  assert.equal(put.BucketKeyEnabled, true);
  const echoed = JSON.parse(Buffer.from(put.SSEKMSEncryptionContext!, 'base64').toString()) as Record<string, string>;
  assert.deepEqual(echoed, { project: 'p1', 'aws:s3:arn': `arn:aws:s3:::${Bucket}/k1` });
  assert.notEqual(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`, 'an SSE-KMS ETag is not the MD5 of the plaintext');
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'k1' }));
  assert.equal(head.ServerSideEncryption, 'aws:kms');
  assert.equal(head.SSEKMSKeyId, 'testkey-1');
  assert.equal(head.BucketKeyEnabled, true);
  assert.equal(head.ETag, put.ETag);
  const ranged = await s3.send(new GetObjectCommand({ Bucket, Key: 'k1', Range: 'bytes=65535-200000' }));
  assert.deepEqual(await bytesOf(ranged), body.subarray(65535, 200_001));
});

test('SSE-KMS - without a key id the store default key is used; an unknown key is 400 KMS.NotFoundException', async () => {
  const put = await s3.send(new PutObjectCommand({ Bucket, Key: 'default-key', Body: 'hello', ServerSideEncryption: 'aws:kms' }));
  assert.equal(put.SSEKMSKeyId, 'arn:aws:kms:us-east-1:000000000000:key/tessera-sse-s3');
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'default-key' }))).Body!.transformToString(), 'hello');
  await rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'nokey', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'no-such-key' })), 400, 'KMS.NotFoundException');
  assert.equal((await raw(server, { method: 'HEAD', path: `/${Bucket}/nokey` })).status, 404);
});

test('SSE-KMS - a disabled key makes GET and HEAD fail with 400 KMS.DisabledException until it is enabled again', async () => {
  assert.equal((await admin('kms/keys', { keyId: 'disable-me' })).status, 200);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'dis', Body: 'secret', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'disable-me' }));
  assert.equal((await admin('kms/keys/disable-me/disable')).status, 200);
  await rejects(s3.send(new GetObjectCommand({ Bucket, Key: 'dis' })), 400, 'KMS.DisabledException');
  await rejects(s3.send(new HeadObjectCommand({ Bucket, Key: 'dis' })), 400, '');
  await rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'dis2', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'disable-me' })), 400, 'KMS.DisabledException');
  assert.equal((await admin('kms/keys/disable-me/enable')).status, 200);
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'dis' }))).Body!.transformToString(), 'secret');
});

test('SSE-KMS multipart - parts sealed under the upload key read back across parts; copies to and from SSE-KMS', async () => {
  const partBytes = 5 * 1024 * 1024;
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'testkey-2' }));
  assert.equal(upload.ServerSideEncryption, 'aws:kms');
  assert.equal(upload.SSEKMSKeyId, 'testkey-2');
  const parts = [randomBytes(partBytes), randomBytes(12_345)];
  const done = [];
  for (const [i, Body] of parts.entries()) {
    const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId: upload.UploadId, PartNumber: i + 1, Body }));
    assert.equal(part.ServerSideEncryption, 'aws:kms');
    done.push({ ETag: part.ETag!, PartNumber: i + 1 });
  }
  const completed = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId: upload.UploadId, MultipartUpload: { Parts: done } }));
  assert.equal(completed.SSEKMSKeyId, 'testkey-2');
  const whole = Buffer.concat(parts);
  const across = await s3.send(new GetObjectCommand({ Bucket, Key: 'mp', Range: `bytes=${partBytes - 5}-${partBytes + 5}` }));
  assert.deepEqual(await bytesOf(across), whole.subarray(partBytes - 5, partBytes + 6));
  // SSE-KMS → SSE-S3 under another key name, and plain → SSE-KMS.
  const toS3 = await s3.send(new CopyObjectCommand({ Bucket, Key: 'mp-s3', CopySource: `${Bucket}/mp`, ServerSideEncryption: 'AES256' }));
  assert.equal(toS3.ServerSideEncryption, 'AES256');
  assert.deepEqual(await bytesOf(await s3.send(new GetObjectCommand({ Bucket, Key: 'mp-s3' }))), whole);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'plain text' }));
  const toKms = await s3.send(new CopyObjectCommand({ Bucket, Key: 'plain-kms', CopySource: `${Bucket}/plain`, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'testkey-1' }));
  assert.equal(toKms.SSEKMSKeyId, 'testkey-1');
  assert.equal(await (await s3.send(new GetObjectCommand({ Bucket, Key: 'plain-kms' }))).Body!.transformToString(), 'plain text');
});

test('bucket encryption - a default rule encrypts writes without headers; Get answers it, Delete removes it, bad rules are refused', async () => {
  const b = 'default-enc';
  await s3.send(new CreateBucketCommand({ Bucket: b }));
  await rejects(s3.send(new GetBucketEncryptionCommand({ Bucket: b })), 404, 'ServerSideEncryptionConfigurationNotFoundError');
  await s3.send(new PutBucketEncryptionCommand({
    Bucket: b,
    ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'testkey-1' }, BucketKeyEnabled: true }] },
  }));
  const rule = (await s3.send(new GetBucketEncryptionCommand({ Bucket: b }))).ServerSideEncryptionConfiguration!.Rules![0]!;
  assert.equal(rule.ApplyServerSideEncryptionByDefault!.SSEAlgorithm, 'aws:kms');
  assert.equal(rule.ApplyServerSideEncryptionByDefault!.KMSMasterKeyID, 'testkey-1');
  assert.equal(rule.BucketKeyEnabled, true);
  const put = await s3.send(new PutObjectCommand({ Bucket: b, Key: 'o', Body: 'by default' }));
  assert.equal(put.ServerSideEncryption, 'aws:kms');
  assert.equal(put.SSEKMSKeyId, 'testkey-1');
  // The request's own headers win over the bucket's rule.
  assert.equal((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'o2', Body: 'x', ServerSideEncryption: 'AES256' }))).ServerSideEncryption, 'AES256');
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: b, Key: 'o' }))).ServerSideEncryption, 'aws:kms');
  await s3.send(new DeleteBucketEncryptionCommand({ Bucket: b }));
  await rejects(s3.send(new GetBucketEncryptionCommand({ Bucket: b })), 404, 'ServerSideEncryptionConfigurationNotFoundError');
  assert.equal((await s3.send(new PutObjectCommand({ Bucket: b, Key: 'o3', Body: 'x' }))).ServerSideEncryption, undefined);
  const xml = (algorithm: string, key = '') => `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>${algorithm}</SSEAlgorithm>${key}</ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`;
  const md5 = (text: string) => createHash('md5').update(text).digest('base64');
  for (const [body, code] of [[xml('AES512'), 'InvalidArgument'], [xml('AES256', '<KMSMasterKeyID>testkey-1</KMSMasterKeyID>'), 'InvalidArgument'], ['<ServerSideEncryptionConfiguration/>', 'MalformedXML']] as const) {
    assertS3Error(await raw(server, { method: 'PUT', path: `/${b}`, query: { encryption: null }, headers: { 'content-md5': md5(body) }, body }), 400, code);
  }
});

test('default encryption - with --default-encryption AES256 every new object is SSE-S3 and GetBucketEncryption answers AES256', async () => {
  const other = await startTessera({ env: { TESSERA_DEFAULT_ENCRYPTION: 'AES256' } });
  try {
    await withClient(other, async (client: S3Client) => {
      await client.send(new CreateBucketCommand({ Bucket: 'all-enc' }));
      const rule = (await client.send(new GetBucketEncryptionCommand({ Bucket: 'all-enc' }))).ServerSideEncryptionConfiguration!.Rules![0]!;
      assert.equal(rule.ApplyServerSideEncryptionByDefault!.SSEAlgorithm, 'AES256');
      const put = await client.send(new PutObjectCommand({ Bucket: 'all-enc', Key: 'o', Body: 'quietly encrypted' }));
      assert.equal(put.ServerSideEncryption, 'AES256');
      assert.equal(await (await client.send(new GetObjectCommand({ Bucket: 'all-enc', Key: 'o' }))).Body!.transformToString(), 'quietly encrypted');
      // DeleteBucketEncryption falls back to the store's default, it cannot turn encryption off.
      await client.send(new DeleteBucketEncryptionCommand({ Bucket: 'all-enc' }));
      assert.equal((await client.send(new PutObjectCommand({ Bucket: 'all-enc', Key: 'o2', Body: 'x' }))).ServerSideEncryption, 'AES256');
    });
  } finally {
    await other.cleanup();
  }
});
