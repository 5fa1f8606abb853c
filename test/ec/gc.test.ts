// GC under a real server (issue #3): after overwrites, deletes, completed and aborted multipart uploads,
// the drives hold exactly the shards the live objects need.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateBucketCommand, CreateMultipartUploadCommand,
  DeleteObjectCommand, GetObjectCommand, PutObjectCommand, UploadPartCommand, type S3Client,
} from '@aws-sdk/client-s3';
import { startEcServer, shardCount } from './helpers.js';

const ec = await startEcServer(6);
after(() => ec.cleanup());
const s3: S3Client = ec.server.client();
after(() => s3.destroy());
const Bucket = 'gc-bucket';

/** Waits (bounded) until every drive holds `expected` shard files. */
async function expectShardsPerDrive(expected: number, label: string): Promise<void> {
  let counts: number[] = [];
  for (let i = 0; i < 100; i++) {
    counts = await Promise.all(ec.drives.map(async (d) => (await shardCount(d))));
    if (counts.every((c) => c === expected)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${label}: expected ${expected} shard files per drive, found ${counts.join(', ')}`);
}

test('gc - overwrite and delete release the old data', async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: randomBytes(1_000_000) }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: randomBytes(500_000) }));
  await expectShardsPerDrive(2, 'two objects');
  const body = randomBytes(2_000_000);
  await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: body }));
  await expectShardsPerDrive(2, 'after overwriting a');
  const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'a' }));
  assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a' }));
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'b' }));
  await expectShardsPerDrive(0, 'after deleting both');
});

test('gc - completed uploads keep only the parts they use, aborted ones keep nothing', async () => {
  const part = () => randomBytes(5 * 1024 * 1024);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
  const e1 = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, Body: part() }));
  await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 2, Body: part() }));
  const e2 = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 2, Body: part() })); // replaces part 2
  await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 3, Body: part() })); // never used
  await expectShardsPerDrive(3, 'three live parts');
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }));
  await expectShardsPerDrive(2, 'completed with two parts');

  const aborted = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'gone' }));
  await s3.send(new UploadPartCommand({ Bucket, Key: 'gone', UploadId: aborted.UploadId, PartNumber: 1, Body: part() }));
  await expectShardsPerDrive(3, 'a part of an upload to abort');
  await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: 'gone', UploadId: aborted.UploadId }));
  await expectShardsPerDrive(2, 'after abort');
  await s3.send(new DeleteObjectCommand({ Bucket, Key: 'mp' }));
  await expectShardsPerDrive(0, 'after deleting the multipart object');
});
