// Reads beyond the redundancy budget (issue #10): with three of six drives gone at RS 4+2, a GET, a ranged
// GET, a CopyObject and an UploadPartCopy of a block object get a 503 ServiceUnavailable S3 error before
// any byte of a body, never a closed connection; HEAD still answers from metadata. Admin status, on the same
// server, names the default redundancy.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startEcServer } from '../ec/helpers.js';
import { assertS3Error, raw } from '../s3/raw-http.js';

const ec = await startEcServer(6);
after(() => ec.cleanup());
const s3 = ec.server.client();
after(() => s3.destroy());

await s3.send(new CreateBucketCommand({ Bucket: 'budget' }));
await s3.send(new PutObjectCommand({ Bucket: 'budget', Key: 'big', Body: randomBytes(3 * 1024 * 1024 + 17) }));
const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'budget', Key: 'copy-target' }));
for (const drive of ec.drives.slice(0, 3)) await rm(drive, { recursive: true, force: true });

test('beyond budget - GET of a block object gets 503 ServiceUnavailable before the body when three of six drives are gone', async () => {
  const body = assertS3Error(await raw(ec.server, { path: '/budget/big' }), 503, 'ServiceUnavailable');
  assert.match(body.Message!, /drive/i);
  await ec.server.logged(/ERR_QUORUM_UNREACHABLE/);
});

// The range spans every data chunk of its stripes, so it needs a decode; a small range whose chunks all sit
// on surviving drives is served exactly (the reader reads only the chunks it needs).
test('beyond budget - ranged GET gets 503 ServiceUnavailable when three of six drives are gone', async () => {
  assertS3Error(await raw(ec.server, { path: '/budget/big', headers: { range: 'bytes=1-3000000' } }), 503, 'ServiceUnavailable');
});

test('beyond budget - HEAD still answers from metadata when three of six drives are gone', async () => {
  const res = await raw(ec.server, { method: 'HEAD', path: '/budget/big' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-length'], String(3 * 1024 * 1024 + 17));
});

test('beyond budget - CopyObject from an unreadable source gets 503 ServiceUnavailable', async () => {
  const res = await raw(ec.server, { method: 'PUT', path: '/budget/copy', headers: { 'x-amz-copy-source': '/budget/big' } });
  assertS3Error(res, 503, 'ServiceUnavailable');
});

test('beyond budget - UploadPartCopy from an unreadable source gets 503 ServiceUnavailable', async () => {
  const res = await raw(ec.server, {
    method: 'PUT',
    path: '/budget/copy-target',
    query: { partNumber: '1', uploadId: UploadId! },
    headers: { 'x-amz-copy-source': '/budget/big', 'x-amz-copy-source-range': 'bytes=0-99999' },
  });
  assertS3Error(res, 503, 'ServiceUnavailable');
});

test('admin status - names the default redundancy and how many drives may fail', async () => {
  assert.match(await ec.admin('status'), /^redundancy: Reed-Solomon 4\+2: any 2 drives may fail$/m);
});
