// The basic round trip every client relies on: create a bucket, put, get, list, delete.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, DeleteObjectCommand, DeleteBucketCommand } from '@aws-sdk/client-s3';
import { startTessera } from './helpers/tessera.js';

const server = await startTessera();
after(() => server.cleanup());

test('smoke - put, get, list and delete round trip with SDK defaults', async () => {
  const s3 = server.client();
  await s3.send(new CreateBucketCommand({ Bucket: 'smoke' }));
  const put = await s3.send(new PutObjectCommand({ Bucket: 'smoke', Key: 'a b+c%d/ü.txt', Body: 'hello world' }));
  assert.equal(put.ETag, '"5eb63bbbe01eeed093cb22bb8f5acdc3"');
  const got = await s3.send(new GetObjectCommand({ Bucket: 'smoke', Key: 'a b+c%d/ü.txt' }));
  assert.equal(await got.Body!.transformToString(), 'hello world');
  const list = await s3.send(new ListObjectsV2Command({ Bucket: 'smoke' }));
  assert.deepEqual(list.Contents?.map((o) => o.Key), ['a b+c%d/ü.txt']);
  await s3.send(new DeleteObjectCommand({ Bucket: 'smoke', Key: 'a b+c%d/ü.txt' }));
  await s3.send(new DeleteBucketCommand({ Bucket: 'smoke' }));
  s3.destroy();
});
