// Object tagging: x-amz-tagging on PUT and multipart, Get/Put/DeleteObjectTagging per version, the
// tag count on GET, CopyObject's tagging directive, and AWS's limits.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CopyObjectCommand, CreateBucketCommand, DeleteObjectTaggingCommand, GetObjectTaggingCommand, HeadObjectCommand,
  PutBucketVersioningCommand, PutObjectCommand, PutObjectTaggingCommand,
} from '@aws-sdk/client-s3';
import { startTessera } from '../helpers/tessera.js';

const server = await startTessera();
after(() => server.cleanup());
const s3 = server.client();
after(() => s3.destroy());
const Bucket = 'tagging-bucket';

test('object tagging - tags from x-amz-tagging come back from GetObjectTagging and as a count on HEAD', async () => {
  await s3.send(new CreateBucketCommand({ Bucket }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: 'x', Tagging: 'team=blue&cost%20center=42' }));
  const tags = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'a' }));
  assert.deepEqual(tags.TagSet, [{ Key: 'team', Value: 'blue' }, { Key: 'cost center', Value: '42' }]);
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'a' }));
  assert.equal(head.TagCount, 2);
});

test('object tagging - PutObjectTagging replaces the set and DeleteObjectTagging empties it', async () => {
  await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'a', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'a' }))).TagSet, [{ Key: 'k', Value: 'v' }]);
  await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 'a' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'a' }))).TagSet ?? [], []);
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'a' }))).TagCount, undefined);
});

test('object tagging - CopyObject copies tags by default and replaces them with REPLACE', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'x', Tagging: 'a=1' }));
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'copied', CopySource: `${Bucket}/src` }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'copied' }))).TagSet, [{ Key: 'a', Value: '1' }]);
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'replaced', CopySource: `${Bucket}/src`, TaggingDirective: 'REPLACE', Tagging: 'b=2' }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'replaced' }))).TagSet, [{ Key: 'b', Value: '2' }]);
});

test('object tagging - tags belong to one version', async () => {
  await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  const v1 = await s3.send(new PutObjectCommand({ Bucket, Key: 'v', Body: '1', Tagging: 'gen=1' }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'v', Body: '2', Tagging: 'gen=2' }));
  await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'v', VersionId: v1.VersionId, Tagging: { TagSet: [{ Key: 'gen', Value: 'one' }] } }));
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'v', VersionId: v1.VersionId }))).TagSet, [{ Key: 'gen', Value: 'one' }]);
  assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 'v' }))).TagSet, [{ Key: 'gen', Value: '2' }]);
});

test('object tagging - more than 10 tags or a repeated key is InvalidTag', async () => {
  const many = Array.from({ length: 11 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
  await assert.rejects(s3.send(new PutObjectTaggingCommand({ Bucket, Key: 'a', Tagging: { TagSet: many } })), { name: 'InvalidTag' });
  await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'dup', Body: 'x', Tagging: 'a=1&a=2' })), { name: 'InvalidTag' });
});
