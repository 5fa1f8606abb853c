// Object tagging: x-amz-tagging on PUT and multipart, Get/Put/DeleteObjectTagging per version, the
// tag count on GET, CopyObject's tagging directive, AWS's limits, and the URL query form of the header
// (empty values, several tags, + and %20) with the tag set answered sorted by key.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand, CopyObjectCommand, CreateBucketCommand, CreateMultipartUploadCommand, DeleteObjectTaggingCommand,
  GetObjectTaggingCommand, HeadObjectCommand, PutBucketVersioningCommand, PutObjectCommand, PutObjectTaggingCommand, UploadPartCommand,
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
  assert.deepEqual(tags.TagSet, [{ Key: 'cost center', Value: '42' }, { Key: 'team', Value: 'blue' }]);
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

async function tagsOf(key: string): Promise<{ tags: { Key?: string; Value?: string }[]; count: number | undefined }> {
  const tags = (await s3.send(new GetObjectTaggingCommand({ Bucket, Key: key }))).TagSet ?? [];
  return { tags, count: (await s3.send(new HeadObjectCommand({ Bucket, Key: key }))).TagCount };
}

test('object tagging - x-amz-tagging with a bare key and several tags comes back whole, sorted by key (ceph test_put_obj_with_tags)', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'ceph-tags', Body: 'A'.repeat(100), Tagging: 'foo=bar&bar' }));
  assert.deepEqual(await tagsOf('ceph-tags'), { tags: [{ Key: 'bar', Value: '' }, { Key: 'foo', Value: 'bar' }], count: 2 });
});

test('object tagging - x-amz-tagging decodes + and %20 as spaces and keeps integer-like and __proto__ keys', async () => {
  await s3.send(new PutObjectCommand({ Bucket, Key: 'encoded-tags', Body: 'x', Tagging: 'k+1=v%201&k%2B2=a%26b&10=x&2=&__proto__=p' }));
  assert.deepEqual(await tagsOf('encoded-tags'), {
    tags: [{ Key: '10', Value: 'x' }, { Key: '2', Value: '' }, { Key: '__proto__', Value: 'p' }, { Key: 'k 1', Value: 'v 1' }, { Key: 'k+2', Value: 'a&b' }],
    count: 5,
  });
});

test('object tagging - CopyObject REPLACE and CreateMultipartUpload take the same header form', async () => {
  const header = 'z=&a=1&__proto__=p';
  const expected = [{ Key: '__proto__', Value: 'p' }, { Key: 'a', Value: '1' }, { Key: 'z', Value: '' }];
  await s3.send(new PutObjectCommand({ Bucket, Key: 'copy-src', Body: 'x', Tagging: 'old=1' }));
  await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy-dst', CopySource: `${Bucket}/copy-src`, TaggingDirective: 'REPLACE', Tagging: header }));
  assert.deepEqual(await tagsOf('copy-dst'), { tags: expected, count: 3 });
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp-tags', Tagging: header }));
  const { ETag } = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp-tags', UploadId, PartNumber: 1, Body: 'x' }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp-tags', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }));
  assert.deepEqual(await tagsOf('mp-tags'), { tags: expected, count: 3 });
});

test('object tagging - an invalid x-amz-tagging is InvalidTag on PutObject, CopyObject REPLACE and CreateMultipartUpload', async () => {
  const invalid = [
    Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&'), 'a=1&a=2', `${'k'.repeat(129)}=v`, `k=${'v'.repeat(257)}`, '=v',
  ];
  for (const Tagging of invalid) {
    await assert.rejects(s3.send(new PutObjectCommand({ Bucket, Key: 'invalid-tags', Body: 'x', Tagging })), { name: 'InvalidTag' });
    await assert.rejects(
      s3.send(new CopyObjectCommand({ Bucket, Key: 'invalid-tags', CopySource: `${Bucket}/copy-src`, TaggingDirective: 'REPLACE', Tagging })),
      { name: 'InvalidTag' },
    );
    await assert.rejects(s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'invalid-tags', Tagging })), { name: 'InvalidTag' });
  }
  // At the limits: 10 tags, a 128-character key and a 256-character value.
  await s3.send(new PutObjectCommand({ Bucket, Key: 'limit-tags', Body: 'x', Tagging: Array.from({ length: 10 }, (_, i) => `k${i}=v`).join('&') }));
  await s3.send(new PutObjectCommand({ Bucket, Key: 'limit-tags', Body: 'x', Tagging: `${'k'.repeat(128)}=${'v'.repeat(256)}` }));
});
