// Multipart requests that clients repeat (issue 10): a CompleteMultipartUpload retried after it succeeded,
// and two uploads of one part number racing, where the one that started first finishes last.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListPartsCommand,
  PutBucketVersioningCommand, UploadPartCommand, type CompletedPart,
} from '@aws-sdk/client-s3';
import { startTesseraForFile } from '../helpers/tessera.js';
import { storedShardNames } from '../ec/helpers.js';
import { sdkError } from './raw-http.js';

// GC runs at once, so the test can see a replaced part leave the drive.
const { server, s3 } = await startTesseraForFile({ args: ['--gc-delay', '0', '--gc-interval', '1'] });
const Bucket = 'multipart-retries';
before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
});

async function create(key: string, extra: Record<string, unknown> = {}): Promise<string> {
  return (await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: key, ...extra }))).UploadId!;
}

function complete(key: string, uploadId: string, parts: CompletedPart[]) {
  return s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
}

async function bytesOf(key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket, Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

async function driveFiles(): Promise<Set<string>> {
  return storedShardNames(join(server.dataDir, 'drive'));
}

test('CompleteMultipartUpload - a retry after success answers the first ETag, version, checksum and location (issue 10)', async () => {
  const key = 'retried complete';
  const uploadId = await create(key, { ChecksumAlgorithm: 'SHA256' });
  const body = randomBytes(1000);
  const part = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: body, ChecksumAlgorithm: 'SHA256' }));
  const parts = [{ PartNumber: 1, ETag: part.ETag!, ChecksumSHA256: part.ChecksumSHA256! }];
  const first = await complete(key, uploadId, parts);
  const again = await complete(key, uploadId, parts);
  assert.equal(again.$metadata.httpStatusCode, 200);
  assert.deepEqual(
    [again.ETag, again.VersionId, again.ChecksumSHA256, again.Location, again.Bucket, again.Key],
    [first.ETag, first.VersionId, first.ChecksumSHA256, first.Location, first.Bucket, first.Key],
  );
  assert.ok(first.VersionId && first.ChecksumSHA256);
  // A retry does not write another version.
  assert.ok((await bytesOf(key)).equals(body));
  // Quotes around the ETag do not make a different part list.
  await complete(key, uploadId, [{ PartNumber: 1, ETag: part.ETag!.replace(/"/g, '') }]);
});

test('CompleteMultipartUpload - a retry with another part list or on another key is NoSuchUpload', async () => {
  const key = 'retried differently';
  const uploadId = await create(key);
  const p1 = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: randomBytes(6 * 1024 * 1024) }));
  const p2 = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 2, Body: 'tail' }));
  await complete(key, uploadId, [{ PartNumber: 1, ETag: p1.ETag! }, { PartNumber: 2, ETag: p2.ETag! }]);
  await assert.rejects(complete(key, uploadId, [{ PartNumber: 1, ETag: p1.ETag! }]), sdkError('NoSuchUpload', 404));
  await assert.rejects(complete('another key', uploadId, [{ PartNumber: 1, ETag: p1.ETag! }, { PartNumber: 2, ETag: p2.ETag! }]), sdkError('NoSuchUpload', 404));
});

test('CompleteMultipartUpload - a retry after the bucket was deleted is NoSuchBucket, not a replayed success', async () => {
  const bucket = 'multipart-retries-gone';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'k' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'k', UploadId, PartNumber: 1, Body: 'data' }));
  const completion = () => s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'k', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag! }] } }));
  await completion();
  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' }));
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  await assert.rejects(completion(), sdkError('NoSuchBucket', 404));
});

test('UploadPart - two uploads of one part racing: the last to commit wins, the other is freed (ceph test_multipart_resend_first_finishes_last)', async () => {
  const key = 'resend first finishes last';
  const uploadId = await create(key);
  const size = 64 * 1024;
  const bodyA = Buffer.alloc(size, 'A');
  const bodyB = Buffer.alloc(size, 'B');
  // A starts first and sends half its body, then B is uploaded whole, then A finishes.
  const streamA = new PassThrough();
  streamA.write(bodyA.subarray(0, size / 2));
  const uploadA = s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: streamA, ContentLength: size }));
  await new Promise((r) => setTimeout(r, 300));
  const filesBefore = await driveFiles();
  const b = await s3.send(new UploadPartCommand({ Bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: bodyB }));
  const filesOfB = [...(await driveFiles())].filter((f) => !filesBefore.has(f));
  streamA.end(bodyA.subarray(size / 2));
  const a = await uploadA;
  assert.notEqual(a.ETag, b.ETag);
  const listed = await s3.send(new ListPartsCommand({ Bucket, Key: key, UploadId: uploadId }));
  assert.deepEqual(listed.Parts?.map((p) => [p.PartNumber, p.ETag]), [[1, a.ETag]]);
  await assert.rejects(complete(key, uploadId, [{ PartNumber: 1, ETag: b.ETag! }]), sdkError('InvalidPart', 400));
  // The client lists both uploads of part 1 in the order they returned; the last one names the part.
  await complete(key, uploadId, [{ PartNumber: 1, ETag: b.ETag! }, { PartNumber: 1, ETag: a.ETag! }]);
  assert.ok((await bytesOf(key)).equals(bodyA));
  let left = filesOfB;
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 200));
    const now = await driveFiles();
    left = filesOfB.filter((f) => now.has(f));
  }
  assert.ok(filesOfB.length > 0, 'part B stored nothing on the drive');
  assert.deepEqual(left, [], 'the replaced part B was not freed');
});
